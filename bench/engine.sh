#!/usr/bin/env bash
# engine.sh — the engine benchmark: corral's daemon beside podman and
# Debian's dockerd, in one sitting, each with a private store on the
# sitting's tmpfs and the same busybox image loaded from one tarball:
#   1. `run --rm --network none busybox true`: N runs per engine, round
#      robin; median, mean and p90 wall time;
#   2. COUNT idle containers (`run -d --network none busybox sleep 1000`)
#      per engine, started one after another (round robin between the
#      engines): the total time of the COUNT starts;
#   3. host memory per container: the PSS of the monitor process of each
#      of those containers (corral monitor, conmon, containerd-shim-runc-v2)
#      summed and divided by COUNT, all 3 x COUNT still running.
# Ratios against podman and docker, and issue 5's targets. See
# bench/README.md.
#
# Environment:
#   N           timed runs per engine of `run --rm` (default 20)
#   WARMUP      untimed runs per engine before them (default 2)
#   COUNT       idle containers per engine (default 50)
#   GAP         seconds of quiet before each engine's turn (default 0.1)
#   SEED        seed of the per-round random order (default: the script's pid)
#   CORRAL      the corral binary; its daemon is started by the script
#               (default /usr/local/bin/corral)
#   CORRAL_CLI  the client command for corral's daemon, the literal $SOCK
#               standing for its socket (default '$CORRAL -H unix://$SOCK' if
#               `corral run --help` documents run, else 'docker -H unix://$SOCK')
#   DOCKER      the docker CLI for dockerd (default: docker in PATH)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

readonly ENGINES="corral podman docker"

# ---------------------------------------------------------------------------
# The engines, each with its state under $SCRATCH/LABEL.

# engine_cmd sets the array CMD to the client command of engine $1.
engine_cmd() {
	local dir=$SCRATCH/$1
	case $1 in
	corral) read -r -a CMD <<<"${CORRAL_CLI//\$SOCK/$dir/sock}" ;;
	docker) CMD=("$DOCKER" -H "unix://$dir/sock") ;;
	podman) CMD=(podman --root "$dir/root" --runroot "$dir/run" --tmpdir "$dir/tmp"
		--storage-driver overlay --events-backend file --cgroup-manager cgroupfs) ;;
	esac
}

# cgroup_parent prints the cgroup under which engine $1 puts its
# containers: named after the sitting, so that the sweep finds them.
cgroup_parent() { printf '/corral-bench-%s-%s\n' "$BENCH_TAG" "$1"; }

# on_engine runs "$2..." as a command of engine $1: podman's crun refuses
# this hybrid cgroup layout unless it looks empty, so for podman an empty
# file hides the unified cgroup.controllers (private to this mount ns)
# around the command, outside any timing.
on_engine() {
	local label=$1 rc=0
	shift
	[[ $label != podman ]] || crun_workaround on
	"$@" || rc=$?
	[[ $label != podman ]] || crun_workaround off
	return "$rc"
}

# ecmd runs engine $1's client with arguments $2..., its output to out.$1.
ecmd() {
	local label=$1
	shift
	engine_cmd "$label"
	on_engine "$label" "${CMD[@]}" "$@" <"$SCRATCH/stdin" 2>>"$SCRATCH/out.$label"
}

# wait_api waits up to 60 s for the API of engine $1, whose daemon is
# process $2, to answer.
wait_api() {
	local label=$1 pid=$2 i
	for ((i = 0; i < 600; i++)); do
		ecmd "$label" version >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$SCRATCH/$label/log" >&2
	die "$label: the daemon did not answer (its log above)"
}

# start_dockerd starts Debian's dockerd with everything of its own under
# $SCRATCH/docker: data and exec roots (its containerd runs under them),
# socket, pid file, an empty configuration, no bridge and no iptables. In
# a session of its own, as corral's daemon: a Ctrl-C reaches the script,
# which then removes the containers through the daemons and stops them.
# DOCKERD_NET (bench/ports.sh) replaces --bridge=none.
start_dockerd() {
	local dir=$SCRATCH/docker
	local -a net
	read -r -a net <<<"${DOCKERD_NET:---bridge=none}"
	mkdir -p "$dir"
	printf '{}\n' >"$dir/daemon.json"
	setsid dockerd --config-file "$dir/daemon.json" --data-root "$dir/root" --exec-root "$dir/run" \
		-H "unix://$dir/sock" --pidfile "$dir/pid" --iptables=false --ip6tables=false \
		"${net[@]}" --exec-opt native.cgroupdriver=cgroupfs --storage-driver overlay2 \
		>"$dir/log" 2>&1 &
	wait_api docker $!
}

# start_corral starts `corral daemon` on $SCRATCH/corral, like dockerd.
start_corral() {
	local dir=$SCRATCH/corral
	mkdir -p "$dir"
	setsid "$CORRAL" daemon -H "unix://$dir/sock" --data-root "$dir/root" --exec-root "$dir/run" \
		--pidfile "$dir/pid" --config-file "$dir/daemon.json" >"$dir/log" 2>&1 &
	wait_api corral $!
}

# private_state hides what podman and dockerd would otherwise use on the
# host: podman's blob info cache under /var/lib/containers, a system
# containerd's socket under /run/containerd (dockerd would use it rather
# than start its own).
private_state() {
	mkdir -p /var/lib/containers
	mount -t tmpfs -o mode=0700 corral-bench /var/lib/containers
	[[ ! -d /run/containerd ]] || mount -t tmpfs -o mode=0711 corral-bench /run/containerd
}

# remove_all removes every container of engine $1.
remove_all() {
	local label=$1
	local -a ids force=(-f)
	[[ $label != podman ]] || force=(-f -t 0) # podman would wait 10 s for sleep
	mapfile -t ids < <(ecmd "$label" ps -aq --no-trunc 2>/dev/null)
	((${#ids[@]} == 0)) || ecmd "$label" rm "${force[@]}" "${ids[@]}" >/dev/null 2>&1
}

# stop_daemon stops the daemon of engine $1 (TERM, then KILL after 20 s).
stop_daemon() {
	local pidfile=$SCRATCH/$1/pid pid i
	[[ -s $pidfile ]] || return 0
	pid=$(cat "$pidfile")
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

# stop_engines removes the containers and stops the daemons; what is left
# dies with the sitting's PID namespace, its mounts with its mount ns.
stop_engines() {
	local label
	for label in "${LABELS[@]}"; do
		[[ $label == podman || -S $SCRATCH/$label/sock ]] || continue
		remove_all "$label" || true
		[[ $label == podman ]] || stop_daemon "$label"
	done
}

# ---------------------------------------------------------------------------
# The image: Debian's busybox-static imported into dockerd and saved, then
# loaded from that tarball into each engine.

make_image() {
	make_rootfs "$SCRATCH/rootfs"
	tar -C "$SCRATCH/rootfs" --numeric-owner -cf "$SCRATCH/rootfs.tar" .
	ecmd docker import -c 'CMD ["sh"]' "$SCRATCH/rootfs.tar" busybox:latest >/dev/null ||
		die "docker import failed"
	ecmd docker save -o "$SCRATCH/busybox.tar" busybox:latest || die "docker save failed"
	ecmd docker rmi busybox:latest >/dev/null || die "docker rmi failed"
	rm -rf "$SCRATCH/rootfs" "$SCRATCH/rootfs.tar"
}

# load_image loads the tarball into every engine and checks that each
# reports the same image ID.
load_image() {
	local label id want=""
	for label in "${LABELS[@]}"; do
		ecmd "$label" load -q -i "$SCRATCH/busybox.tar" >/dev/null || die "$label: load failed"
		id=$(ecmd "$label" image inspect -f '{{.Id}}' busybox:latest) || die "$label: no busybox:latest"
		id=sha256:${id#sha256:}
		want=${want:-$id}
		[[ $id == "$want" ]] || log "WARNING: $label loaded image $id, not $want"
	done
	log "busybox image $want ($(du -k "$SCRATCH/busybox.tar" | cut -f1) KiB tarball) loaded into each engine"
}

# ---------------------------------------------------------------------------
# 1. run --rm, round robin.

# run_round runs `run --rm` once per engine in a fresh order; $1 is the
# round number, rounds up to 0 are warm-up. RUN_NET, the network options
# (--network none unless set; bench/ports.sh sets it empty), go before the
# image.
run_round() {
	local i=$1 label warm=
	((i > 0)) || warm=yes
	round_order
	for label in "${ORDER[@]}"; do
		engine_cmd "$label"
		quiet
		if on_engine "$label" timed "$label" "${CMD[@]}" run --rm "${RUN_NET[@]}" \
			--cgroup-parent "$(cgroup_parent "$label")" busybox true; then
			record run "$label" "$US" "$warm"
		else
			record run "$label" x
		fi
	done
}

# client_floor times corral's client alone, N times: `version` against
# corral's daemon, the part of corral's run that is the client starting
# up and making one API call.
client_floor() {
	local i
	engine_cmd corral
	for ((i = 1; i <= N; i++)); do
		quiet
		if timed corral "${CMD[@]}" version; then
			record floor corral "$US"
		else
			record floor corral x
		fi
	done
}

# check_removed warns about containers that `run --rm` left behind.
check_removed() {
	local label n
	for label in "${LABELS[@]}"; do
		n=$(ecmd "$label" ps -aq | wc -l)
		((n == 0)) || log "WARNING: $label: run --rm left $n containers"
	done
}

# ---------------------------------------------------------------------------
# 2. and 3. COUNT idle containers per engine, then their monitors' memory.

# idle_round starts one sleeper per engine, in a fresh order, each after
# GAP seconds of quiet, so that drift in the machine's load falls on all
# engines alike.
idle_round() {
	local label
	round_order
	for label in "${ORDER[@]}"; do
		engine_cmd "$label"
		quiet
		if on_engine "$label" timed "$label" "${CMD[@]}" run -d --network none \
			--cgroup-parent "$(cgroup_parent "$label")" busybox sleep 1000; then
			record idle "$label" "$US"
		else
			record idle "$label" x
		fi
	done
}

# monitor_memory writes to mem.$1 the memory of engine $1's monitors:
# "CONTAINERS MONITORS PSS_KIB RSS_KIB NAME". A container's monitor is its
# process's parent (corral monitor, conmon and the shim are subreapers).
monitor_memory() {
	local label=$1 pid ppid p r pss=0 rss=0 name=""
	local -a ids pids
	local -A mon=()
	mapfile -t ids < <(ecmd "$label" ps -q --no-trunc)
	((${#ids[@]} > 0)) || return 0
	mapfile -t pids < <(ecmd "$label" inspect -f '{{.State.Pid}}' "${ids[@]}")
	for pid in "${pids[@]}"; do
		ppid=$(awk '$1 == "PPid:" { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
		[[ -n $ppid ]] && mon[$ppid]=1
	done
	for ppid in "${!mon[@]}"; do
		read -r p r < <(awk '$1 == "Pss:" { p = $2 } $1 == "Rss:" { r = $2 } END { print p + 0, r + 0 }' \
			"/proc/$ppid/smaps_rollup")
		pss=$((pss + p)) rss=$((rss + r))
		name=${name:-$(process_name "$ppid")}
	done
	printf '%d %d %d %d %s\n' "${#ids[@]}" "${#mon[@]}" "$pss" "$rss" "$name" >"$SCRATCH/mem.$label"
}

# process_name names process $1: its executable, and its first argument
# unless that is a flag (corral monitor).
process_name() {
	local exe arg
	exe=$(basename "$(readlink "/proc/$1/exe")")
	arg=$(tr '\0' '\n' <"/proc/$1/cmdline" | sed -n 2p)
	[[ -z $arg || $arg == -* ]] || exe+=" $arg"
	printf '%s\n' "$exe"
}

# ---------------------------------------------------------------------------
# Output.

# stats3 prints "median mean p90" in ms of the microsecond values in file
# $1 (nearest-rank percentiles).
stats3() {
	sort -n "$1" | awk '{ v[NR] = $1; s += $1 }
		END {
			m = int((NR + 1) / 2); p = int(NR * 0.9); if (p < NR * 0.9) p++
			printf "%.2f %.2f %.2f\n", v[m] / 1000, s / NR / 1000, v[p] / 1000
		}'
}

fails_of() { grep -c x "$SCRATCH/$1.fails.$2" 2>/dev/null || true; }

# target prints whether value $2 of corral meets "at most $3 x $4's value
# $5" for what $1 names.
target() {
	local what=$1 v=$2 factor=$3 peer=$4 pv=$5
	if [[ -z $v || -z $pv ]]; then
		printf 'target %s <= %sx %s: unknown (a figure is missing)\n' "$what" "$factor" "$peer"
		return
	fi
	awk -v w="$what" -v v="$v" -v f="$factor" -v p="$peer" -v pv="$pv" 'BEGIN {
		r = v / pv
		printf "target %s <= %sx %s: %s (%.3fx)\n", w, f, p, (r <= f ? "met" : "MISSED"), r }'
}

# run_table prints scenario 1: median, mean, p90 and the ratios of the
# medians and of the means to podman and docker.
run_table() {
	local label med mean p90 f
	local -A MED MEAN
	printf '\nrun --rm --network none busybox true (%d timed runs per engine, round robin)\n' "$N"
	printf '%-7s %5s %6s %10s %9s %9s %10s %10s\n' engine runs failed 'median ms' 'mean ms' 'p90 ms' \
		'vs podman' 'vs docker'
	for label in "${LABELS[@]}"; do
		[[ ! -s $SCRATCH/run.times.$label ]] ||
			read -r "MED[$label]" "MEAN[$label]" _ < <(stats3 "$SCRATCH/run.times.$label")
	done
	for label in "${LABELS[@]}"; do
		f=$(fails_of run "$label")
		if [[ -z ${MED[$label]:-} ]]; then
			printf '%-7s %5d %6s %10s\n' "$label" 0 "${f:-0}" 'all failed'
			continue
		fi
		read -r med mean p90 < <(stats3 "$SCRATCH/run.times.$label")
		printf '%-7s %5d %6s %10s %9s %9s %10s %10s\n' "$label" "$(wc -l <"$SCRATCH/run.times.$label")" \
			"${f:-0}" "$med" "$mean" "$p90" "$(ratio "$med" "${MED[podman]:-}")" "$(ratio "$med" "${MED[docker]:-}")"
	done
	printf 'ratios of medians; of means: corral/podman %s, corral/docker %s\n' \
		"$(ratio "${MEAN[corral]:-0}" "${MEAN[podman]:-}")" "$(ratio "${MEAN[corral]:-0}" "${MEAN[docker]:-}")"
	target "corral run --rm (median)" "${MED[corral]:-}" 0.25 podman "${MED[podman]:-}"
	[[ ! -s $SCRATCH/floor.times.corral ]] ||
		printf 'of which the client: "%s version" against the same daemon takes %s ms (median)\n' \
			"$(basename "${CORRAL_CLI%% *}")" "$(stats3 "$SCRATCH/floor.times.corral" | cut -d' ' -f1)"
}

# part_median prints the median in ms of the first ($1 head) or last ($1
# tail) 10 values of file $2, in the order they were recorded: a start
# that slows down as containers accumulate shows here.
part_median() {
	"$1" -n 10 "$2" | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f\n", v[int((NR + 1) / 2)] / 1000 }'
}

# idle_table prints scenario 2: the total time of the COUNT starts, and
# the median start of the first and of the last 10.
idle_table() {
	local label n f
	local -A TOT
	printf '\n%d idle containers per engine (run -d --network none busybox sleep 1000), started one after another, round robin\n' "$COUNT"
	printf '%-7s %7s %6s %9s %13s %13s %12s %10s %10s\n' engine started failed 'total s' 'per start ms' \
		'first 10 ms' 'last 10 ms' 'vs podman' 'vs docker'
	for label in "${LABELS[@]}"; do
		[[ ! -s $SCRATCH/idle.times.$label ]] ||
			TOT[$label]=$(awk '{ s += $1 } END { printf "%.3f", s / 1e6 }' "$SCRATCH/idle.times.$label")
	done
	for label in "${LABELS[@]}"; do
		f=$(fails_of idle "$label")
		if [[ -z ${TOT[$label]:-} ]]; then
			printf '%-7s %7d %6s %9s\n' "$label" 0 "${f:-0}" 'all failed'
			continue
		fi
		n=$(wc -l <"$SCRATCH/idle.times.$label")
		printf '%-7s %7d %6s %9s %13s %13s %12s %10s %10s\n' "$label" "$n" "${f:-0}" "${TOT[$label]}" \
			"$(awk -v t="${TOT[$label]}" -v n="$n" 'BEGIN { printf "%.1f", t * 1000 / n }')" \
			"$(part_median head "$SCRATCH/idle.times.$label")" "$(part_median tail "$SCRATCH/idle.times.$label")" \
			"$(ratio "${TOT[$label]}" "${TOT[podman]:-}")" "$(ratio "${TOT[$label]}" "${TOT[docker]:-}")"
	done
	target "corral $COUNT starts (total)" "${TOT[corral]:-}" 0.3 podman "${TOT[podman]:-}"
}

# mem_table prints scenario 3: the monitors' PSS per container.
mem_table() {
	local label c m pss rss name
	local -A PER
	printf '\nhost memory per container: PSS of its monitor process (smaps_rollup), summed over the %d and divided by them\n' "$COUNT"
	printf '%-7s %-24s %10s %8s %11s %11s %10s %10s\n' engine monitor containers monitors \
		'PSS MiB/ctr' 'RSS MiB/mon' 'vs podman' 'vs docker'
	for label in "${LABELS[@]}"; do
		[[ ! -s $SCRATCH/mem.$label ]] || read -r c m pss _ _ <"$SCRATCH/mem.$label"
		[[ ! -s $SCRATCH/mem.$label ]] || PER[$label]=$(awk -v p="$pss" -v c="$c" 'BEGIN { printf "%.3f", p / c / 1024 }')
	done
	for label in "${LABELS[@]}"; do
		if [[ -z ${PER[$label]:-} ]]; then
			printf '%-7s %-24s %10s\n' "$label" - 'no containers'
			continue
		fi
		read -r c m pss rss name <"$SCRATCH/mem.$label"
		printf '%-7s %-24s %10d %8d %11s %11s %10s %10s\n' "$label" "$name" "$c" "$m" "${PER[$label]}" \
			"$(awk -v r="$rss" -v m="$m" 'BEGIN { printf "%.3f", r / m / 1024 }')" \
			"$(ratio "${PER[$label]}" "${PER[podman]:-}")" "$(ratio "${PER[$label]}" "${PER[docker]:-}")"
	done
	target "corral monitor PSS per container" "${PER[corral]:-}" 1 "podman's conmon" "${PER[podman]:-}"
}

# ---------------------------------------------------------------------------

# sitting_engines prepares the sandbox of one sitting ($1: its scratch
# directory) and starts the three engines with the busybox image loaded;
# bench/logs.sh uses it too.
sitting_engines() {
	inner_setup "$1"
	at_exit stop_engines
	at_exit sweep_sitting_cgroups
	export TMPDIR=$SCRATCH/tmp DOCKER_CONFIG=$SCRATCH/docker-config DOCKER_CLI_HINTS=false
	mkdir -p "$TMPDIR" "$DOCKER_CONFIG" "$SCRATCH/podman"
	printf '{}\n' >"$DOCKER_CONFIG/config.json"
	ip link set lo up
	private_state
	start_dockerd
	make_image
	start_corral
	load_image
}

inner() {
	sitting_engines "$1"
	RUN_NET=(--network none)
	local i label
	log "run --rm: $WARMUP warm-up + $N timed runs per engine, round robin"
	for ((i = 1 - WARMUP; i <= N; i++)); do run_round "$i"; done
	check_removed
	client_floor
	log "idle containers: $COUNT per engine, round robin"
	for ((i = 1; i <= COUNT; i++)); do idle_round; done
	for label in "${LABELS[@]}"; do monitor_memory "$label"; done
	for label in "${LABELS[@]}"; do remove_all "$label"; done
	run_table
	idle_table
	mem_table
	show_failures
}

# default_cli prints the client command for corral's daemon: corral's own
# once its `run` is there, the docker CLI until then.
default_cli() {
	local help
	help=$("$CORRAL" run --help 2>&1) || true
	# shellcheck disable=SC2016 # $SOCK is for engine_cmd to replace.
	if [[ $help == *"corral run"* ]]; then
		printf '%s -H unix://$SOCK\n' "$CORRAL"
	else
		printf '%s -H unix://$SOCK\n' "$DOCKER"
	fi
}

versions() {
	log "corral: $CORRAL ($("$CORRAL" --version)), driven by: $CORRAL_CLI"
	log "docker CLI: $DOCKER ($("$DOCKER" --version))"
	log "dockerd: $(dockerd --version); containerd $(containerd --version | awk '{ print $3 }'); runc $(runc --version | awk 'NR == 1 { print $3 }')"
	log "podman: $(podman --version); conmon $(conmon --version | awk 'NR == 1 { print $3 }'); crun $(crun --version | awk 'NR == 1 { print $3 }')"
	log "$(nproc) cores, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# sweep_sitting_cgroups removes the cgroups of the sitting's engines
# (named after BENCH_TAG): once the engines are stopped, and again, with $1
# set, once the sitting's namespaces are gone and nothing can be left in
# them. On a mounted hierarchy directory by directory, deepest first; under
# an unmounted controller's empty directory (a plain tmpfs directory, where
# crun and conmon still write) as files.
sweep_sitting_cgroups() {
	local final=${1:-} d n=0
	for d in /sys/fs/cgroup/*/corral-bench-"$BENCH_TAG"-*; do
		[[ -d $d ]] || continue
		if [[ $(stat -f -c %T "$(dirname "$d")") == tmpfs ]]; then
			rm -rf "$d"
		else
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
		fi
		if [[ ! -d $d ]]; then
			n=$((n + 1))
		elif [[ -n $final ]]; then
			log "WARNING: cannot remove $d"
		fi
	done
	((n == 0)) || log "removed the sitting's cgroup directories ($n)"
}

# check_engines checks and exports what a sitting needs: root, corral, the
# docker CLI, and podman's and dockerd's parts.
check_engines() {
	[[ $(id -u) == 0 ]] || die "must run as root"
	local t
	export CORRAL=${CORRAL:-/usr/local/bin/corral} DOCKER=${DOCKER:-$(command -v docker || true)}
	[[ -x $CORRAL ]] || die "corral not found at $CORRAL (set CORRAL)"
	[[ -x $DOCKER ]] || die "need the docker CLI (set DOCKER)"
	for t in podman conmon crun dockerd containerd containerd-shim-runc-v2 runc; do
		command -v "$t" >/dev/null || die "need $t (apt-get install podman docker.io)"
	done
	export CORRAL_CLI=${CORRAL_CLI:-$(default_cli)}
}

# sitting runs `SCRIPT __inner SCRATCH` ($1) in a fresh sandbox (mount,
# network, uts, ipc and pid namespaces) and cleans up after it; bench/logs.sh
# uses it too.
sitting() {
	local script=$1 scratch rc=0
	# RUNC and CRUN only for lib.sh's inner_setup.
	export BENCH_TAG=$$ BENCH_LABELS=$ENGINES RUNC=${RUNC:-$(command -v runc)} CRUN=${CRUN:-$(command -v crun)}
	versions
	log "engines in a fresh random order each round (SEED=$SEED), ${GAP}s quiet before each turn (GAP)"
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/corral-bench.XXXXXX")
	trap 'log interrupted' INT TERM HUP
	unshare --mount --net --uts --ipc --pid --fork --mount-proc --propagation private -- \
		"$script" __inner "$scratch" || rc=$?
	rmdir "$scratch"
	sweep_sitting_cgroups final
	log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	return "$rc"
}

main() {
	check_engines
	export N=${N:-20} WARMUP=${WARMUP:-2} COUNT=${COUNT:-50} GAP=${GAP:-0.1} SEED=${SEED:-$$}
	sitting "${BASH_SOURCE[0]}"
}

# Sourced (bench/logs.sh), it only defines its functions.
[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0
if [[ ${1:-} == __inner ]]; then
	inner "$2"
else
	main "$@"
fi
