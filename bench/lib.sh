# lib.sh — helpers shared by the bench scripts; sourced, never run.
#
# A script that sources it sets HERE (its own directory) first; its main
# calls `bench_main SCRIPT`, which re-runs it as `SCRIPT __inner SCRATCH`
# inside private namespaces, where it calls inner_setup SCRATCH first.
# Globals the helpers use:
#   SCRATCH   the tmpfs every file of the sitting lives on
#   BIN       associative array: runtime label -> binary
#   LABELS    runtime labels (corral runc crun); ORDER: this round's order
#   US        microseconds of the last `timed` command
#   WRAP      argv prefix `timed` puts in front of its command (profiling)
# shellcheck shell=bash

REPO=$(cd "$HERE/.." && pwd)
readonly REPO

log() { printf '%s\n' "bench: $*" >&2; }
die() {
	log "$*"
	exit 2
}

# runtime_cmd prints, one per line, the argv prefix that runs runtime $1
# with its state under $2.
runtime_cmd() {
	local bin=$1 state=$2
	printf '%s\n' "$bin"
	[[ $(basename "$bin") == corral ]] && printf '%s\n' runtime
	printf '%s\n' --root "$state"
}

# rt sets the array RT to the argv prefix of runtime label $1.
rt() {
	# shellcheck disable=SC2034 # RT is the caller's.
	mapfile -t RT < <(runtime_cmd "${BIN[$1]}" "$SCRATCH/state/$1")
}

# make_rootfs lays out a busybox-static rootfs in $1.
make_rootfs() {
	local root=$1 applet
	if [[ -x $REPO/scripts/busybox-rootfs.sh ]]; then
		"$REPO/scripts/busybox-rootfs.sh" "$root"
		return
	fi
	[[ -x /bin/busybox ]] || die "need /bin/busybox (apt-get install busybox-static)"
	mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp}
	cp /bin/busybox "$root/bin/busybox"
	for applet in $("$root/bin/busybox" --list); do
		[[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
	done
	printf 'root:x:0:0:root:/:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
}

# make_bundle writes a bundle running /bin/true without a terminal into $1:
# the config of `runc spec` (crun 1.8.1 rejects a newer ociVersion) with
# only terminal and args changed.
make_bundle() {
	local bundle=$1
	mkdir -p "$bundle"
	make_rootfs "$bundle/rootfs"
	(cd "$bundle" && "$RUNC" spec)
	sed -i -e 's/"terminal": true/"terminal": false/' \
		-e '/"args": \[/,/\]/ s|"sh"|"/bin/true"|' "$bundle/config.json"
	if ! grep -q '"terminal": false' "$bundle/config.json" ||
		! grep -q '"/bin/true"' "$bundle/config.json"; then
		die "cannot rewrite the config.json made by runc spec"
	fi
}

# variant_bundle makes bundle $2 from bundle $1: the same rootfs (by its
# absolute path) and $1's config.json passed through jq filter $3.
variant_bundle() {
	local from=$1 to=$2 filter=$3
	command -v jq >/dev/null || die "need jq (apt-get install jq)"
	mkdir -p "$to"
	jq --arg root "$from/rootfs" ".root.path = \$root | $filter" \
		"$from/config.json" >"$to/config.json" || die "jq $filter: failed"
}

# crun_workaround hides the hybrid layout's unified cgroup.controllers from
# crun, which refuses this layout otherwise; private to this mount ns.
crun_workaround() {
	local f=/sys/fs/cgroup/unified/cgroup.controllers
	[[ -e $f ]] || return 0
	if [[ $1 == on ]]; then
		mount --bind "$SCRATCH/empty" "$f"
	else
		umount "$f"
	fi
}

# as_runtime runs "$2..." with crun's workaround in place when label $1 is
# crun, and only then; returns the command's status.
as_runtime() {
	local label=$1 rc=0
	shift
	[[ $label != crun ]] || crun_workaround on
	"$@" || rc=$?
	[[ $label != crun ]] || crun_workaround off
	return "$rc"
}

# round_order sets ORDER to LABELS shuffled afresh (Fisher-Yates on
# $RANDOM, seeded from SEED): the kernel keeps state from one runtime's run
# to the next (a cgroup migration soon after another skips an RCU grace
# period), so no runtime may always follow the same one.
round_order() {
	local i j t
	ORDER=("${LABELS[@]}")
	for ((i = ${#ORDER[@]} - 1; i > 0; i--)); do
		j=$((RANDOM % (i + 1)))
		t=${ORDER[i]}
		ORDER[i]=${ORDER[j]}
		ORDER[j]=$t
	done
}

# quiet sleeps GAP seconds before a runtime's turn, so that each starts from
# a quiet kernel rather than in the wake of the previous runtime.
quiet() {
	[[ $GAP == 0 ]] || sleep "$GAP"
}

# timed runs "$2..." with stdin an empty file and its output appended to
# out.$1, and sets US to its wall time in microseconds ($EPOCHREALTIME,
# no fork inside the window).  A failure is logged to out.$1.  The array
# WRAP, empty but for profiling, is put in front of the command.
timed() {
	local label=$1 t0 t1 rc=0
	shift
	t0=${EPOCHREALTIME/./}
	"${WRAP[@]}" "$@" <"$SCRATCH/stdin" >>"$SCRATCH/out.$label" 2>&1 || rc=$?
	t1=${EPOCHREALTIME/./}
	# shellcheck disable=SC2034 # US is the caller's.
	US=$((t1 - t0))
	if ((rc != 0)); then
		printf '%s: exit status %d: %s\n' "$label" "$rc" "$*" >>"$SCRATCH/out.$label"
	fi
	return "$rc"
}

# record appends a sample to scenario $1 of runtime $2: microseconds $3,
# or a failure when $3 is x.  With $4 set (a warm-up) a success is not kept.
record() {
	local scen=$1 label=$2 us=$3 warm=${4:-}
	if [[ $us == x ]]; then
		printf 'x\n' >>"$SCRATCH/$scen.fails.$label"
	elif [[ -z $warm ]]; then
		printf '%s\n' "$us" >>"$SCRATCH/$scen.times.$label"
	fi
}

# stats prints "median_ms p90_ms" of the microsecond values in file $1
# (nearest-rank percentiles).
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 }
		END {
			m = int((NR + 1) / 2); p = int(NR * 0.9); if (p < NR * 0.9) p++
			printf "%.2f %.2f\n", v[m] / 1000, v[p] / 1000
		}'
}

# ratio prints $1/$2 with two decimals, or - when $2 is unknown.
ratio() {
	[[ -n ${2:-} ]] || {
		echo -
		return
	}
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx\n", a / b }'
}

# table prints the table of scenario $1 titled $2; with $3 set, a peak RSS
# column from $SCRATCH/$1.rss.LABEL.
table() {
	local scen=$1 title=$2 rsscol=${3:-} label med p90 fails rss
	local -A MED
	for label in "${LABELS[@]}"; do
		[[ ! -s $SCRATCH/$scen.times.$label ]] ||
			MED[$label]=$(stats "$SCRATCH/$scen.times.$label" | cut -d' ' -f1)
	done
	printf '\n%s\n%-8s %5s %6s %10s %9s' "$title" runtime runs failed 'median ms' 'p90 ms'
	[[ -z $rsscol ]] || printf ' %13s' 'peak RSS KiB'
	printf ' %8s %8s\n' 'vs crun' 'vs runc'
	for label in "${LABELS[@]}"; do
		fails=$(grep -c x "$SCRATCH/$scen.fails.$label" 2>/dev/null || true)
		if [[ ! -s $SCRATCH/$scen.times.$label ]]; then
			printf '%-8s %5d %6s %10s\n' "$label" 0 "${fails:-0}" 'all failed'
			continue
		fi
		read -r med p90 < <(stats "$SCRATCH/$scen.times.$label")
		printf '%-8s %5d %6s %10s %9s' "$label" \
			"$(wc -l <"$SCRATCH/$scen.times.$label")" "${fails:-0}" "$med" "$p90"
		if [[ -n $rsscol ]]; then
			rss=$(sort -n "$SCRATCH/$scen.rss.$label" 2>/dev/null | tail -n1)
			printf ' %13s' "${rss:--}"
		fi
		printf ' %8s %8s\n' "$(ratio "$med" "${MED[crun]:-}")" "$(ratio "$med" "${MED[runc]:-}")"
	done
}

# show_failures prints the tail of the output of every runtime that failed.
show_failures() {
	local label
	for label in "${LABELS[@]}"; do
		compgen -G "$SCRATCH/*.fails.$label" >/dev/null || continue
		log "last output of $label:"
		tail -n5 "$SCRATCH/out.$label" >&2
	done
}

# sweep_cgroups removes, and reports, cgroup directories a runtime left
# behind for this sitting's containers (their IDs carry BENCH_TAG).
sweep_cgroups() {
	local d n=0
	while IFS= read -r d; do
		rmdir "$d" 2>/dev/null && n=$((n + 1))
	done < <(find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -name "*-$BENCH_TAG-*" 2>/dev/null | sort -r)
	((n == 0)) || log "removed $n cgroup directories left behind by a runtime"
}

# at_exit adds function $1 to what inner_exit runs.
at_exit() { AT_EXIT+=("$1"); }

# inner_exit runs the at_exit functions, then sweeps leftover cgroups; the
# processes of the sitting die with its PID namespace, their cgroups not.
inner_exit() {
	trap '' PIPE
	local f
	for f in "${AT_EXIT[@]}"; do "$f" || true; done
	sweep_cgroups || true
}

# inner_setup mounts the scratch tmpfs at $1, fills the globals and sets
# inner_exit to run however the script ends.
inner_setup() {
	declare -ga AT_EXIT=()
	trap inner_exit EXIT
	trap 'exit 130' INT TERM HUP PIPE
	SCRATCH=$1
	mount -t tmpfs -o mode=0700 corral-bench "$SCRATCH"
	mkdir -p "$SCRATCH/state"
	: >"$SCRATCH/stdin"
	: >"$SCRATCH/empty"
	declare -ga WRAP=() ORDER=()
	RANDOM=$SEED
	declare -gA BIN=([corral]=$CORRAL [runc]=$RUNC [crun]=$CRUN)
	read -r -a LABELS <<<"$BENCH_LABELS"
}

versions() {
	local label
	for label in $BENCH_LABELS; do
		case $label in
		corral) log "corral: $CORRAL" ;;
		runc) log "runc: $("$RUNC" --version | head -n1)" ;;
		crun) log "crun: $("$CRUN" --version | head -n1)" ;;
		esac
	done
	log "$(nproc) cores, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# find_runtimes sets and exports CORRAL, RUNC, CRUN and BENCH_LABELS.
find_runtimes() {
	export CORRAL=${CORRAL:-/usr/local/bin/corral-runc} RUNC=${RUNC:-/usr/sbin/runc} CRUN=${CRUN:-/usr/bin/crun}
	[[ -x $RUNC ]] || die "runc not found at $RUNC: it writes the bundle's config (set RUNC)"
	BENCH_LABELS=""
	if [[ -x $CORRAL ]]; then BENCH_LABELS=corral; else log "corral not found at $CORRAL: skipped (set CORRAL)"; fi
	BENCH_LABELS+=" runc"
	if [[ -x $CRUN ]]; then BENCH_LABELS+=" crun"; else log "crun not found at $CRUN: skipped"; fi
	export BENCH_LABELS
}

# bench_main re-runs script $1 as `$1 __inner SCRATCH` inside private mount,
# network, UTS, IPC and PID namespaces, with a fresh scratch directory.
# BENCH_TAG (this process's pid) makes container IDs unique on the host:
# runtimes name cgroups after them, and cgroups are not namespaced here.
bench_main() {
	local script=$1 scratch rc=0
	[[ $(id -u) == 0 ]] || die "must run as root"
	find_runtimes
	export BENCH_TAG=$$ GAP=${GAP:-0.1} SEED=${SEED:-$$}
	versions
	log "runtimes in a fresh random order each round (SEED=$SEED), ${GAP}s quiet before each turn (GAP)"
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/corral-bench.XXXXXX")
	unshare --mount --net --uts --ipc --pid --fork --mount-proc --propagation private -- \
		"$script" __inner "$scratch" || rc=$?
	rmdir "$scratch"
	log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	return "$rc"
}
