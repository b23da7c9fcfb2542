#!/usr/bin/env bash
# dockerd.sh — drive corral through a real dockerd: Debian's docker.io
# (dockerd 20.10 with the containerd it starts itself) gets corral as an added
# runtime, and the docker CLI runs one scenario per runtime variant in one
# sitting: run, exit status, logs, limits (inspect, inside, host cgroup),
# exec, pause/unpause, stats, top, update, stop, rm.
#
# Usage: test/callers/dockerd.sh [CORRAL]
#
#   CORRAL   runc-compatible corral binary (a corral-runc link, or the corral
#            binary itself). Default: $CORRAL, else /usr/local/bin/corral-runc.
#
# Environment:
#   VARIANTS        runtime variants to run, in order (default
#                   "runc corral corral-unconfined"): runc is dockerd's
#                   default runtime (Debian's runc), corral is
#                   --runtime corral, corral-unconfined adds
#                   --security-opt seccomp=unconfined
#   DOCKER          docker CLI (default: docker on PATH)
#   DOCKERD         default /usr/sbin/dockerd
#   DOCKER_TIMEOUT  seconds allowed to each docker command (default 60)
#   STORAGE_DRIVER  drivers to try in order (default "overlay2 vfs")
#   RUNTIME_TRACE   1 (default): corral is called through a wrapper that logs
#                   each call, its exit status and what it wrote to its --log
#                   file into LOGDIR/runtime-corral.log; 0: called directly
#   DOCKERD_OUT     LOGDIR, the directory for dockerd.log, the runtime log and
#                   config-<variant>-c1.json, the OCI config dockerd wrote for
#                   the limited container (default: a new mktemp dir, kept)
#
# dockerd, its containerd, the shims and every container run in private
# mount, network and PID namespaces: tmpfs on /run (exec root
# /run/docker-test, socket /run/docker-test/docker.sock, data root
# /run/docker-test-data, TMPDIR), /opt and /etc/docker, so nothing but the
# logs is written to the host; the PID namespace ends them all. Containers
# live in cgroups below a per-run cgroup (a relative cgroup-parent), removed
# at the end, also on SIGINT or SIGTERM.
#
# Output: a PASS or FAIL line per check, a tally per variant, the failures
# again and "N passed, M failed" last. Exit status: 0 when no corral variant
# failed a check, 1 when one did, 2 when the sitting could not be set up.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
REPO=$(cd "$HERE/../.." && pwd)
readonly REPO
CALLERS_NAME=dockerd
# shellcheck source=test/callers/lib.sh
. "$HERE/lib.sh"

readonly EXEC_ROOT=/run/docker-test
readonly DATA_ROOT=/run/docker-test-data
readonly WORK=/run/docker-test-work
readonly SOCK=$EXEC_ROOT/docker.sock
# dockerd 20.10 speaks API 1.41; the CLI may be newer.
export DOCKER_API_VERSION=1.41
export DOCKER_HOST=unix://$SOCK

# dk runs the docker CLI, bounded in time.
dk() { timeout -k 5 "$DOCKER_TIMEOUT" "$DOCKER" "$@"; }

# insp C FORMAT prints docker inspect's FORMAT of C, or the error.
insp() { dk inspect -f "$2" "$1" 2>&1 || true; }

# ---------------------------------------------------------------------------
# Setup inside the namespaces.

# write_runtime writes $WORK/bin/corral-runc: a link to CORRAL (a name that
# ends in runc makes corral answer as runc), or with RUNTIME_TRACE a wrapper
# that logs every call into LOGDIR/runtime-corral.log.
write_runtime() {
	mkdir -p "$WORK/bin" "$WORK/lib"
	ln -sfn "$(realpath "$CORRAL")" "$WORK/lib/corral-runc"
	if [[ $RUNTIME_TRACE != 1 ]]; then
		ln -sfn "$WORK/lib/corral-runc" "$WORK/bin/corral-runc"
		return
	fi
	cat >"$WORK/bin/corral-runc" <<EOF
#!/bin/sh
# Logs the call, runs corral, logs its status and the lines it added to --log.
trace=$(printf %q "$LOGDIR/runtime-corral.log")
logf="" prev=""
for a in "\$@"; do [ "\$prev" = --log ] && logf=\$a; prev=\$a; done
size=0
[ -n "\$logf" ] && [ -f "\$logf" ] && size=\$(stat -c %s "\$logf")
printf '%s corral-runc %s\n' "\$(date +%T.%N)" "\$*" >>"\$trace"
$(printf %q "$WORK/lib/corral-runc") "\$@"
rc=\$?
{
	[ "\$rc" = 0 ] || printf '  exit status %s\n' "\$rc"
	[ -n "\$logf" ] && [ -f "\$logf" ] && tail -c +\$((size + 1)) "\$logf" | sed 's/^/  log: /'
} >>"\$trace" 2>&1
exit "\$rc"
EOF
	chmod +x "$WORK/bin/corral-runc"
}

# write_config writes the daemon.json for storage driver $1.
write_config() {
	jq -n --arg driver "$1" --arg corral "$WORK/bin/corral-runc" \
		--arg exec "$EXEC_ROOT" --arg data "$DATA_ROOT" --arg sock "unix://$SOCK" \
		--arg parent "$CGROUP_PARENT" '{
		"data-root": $data, "exec-root": $exec, "pidfile": ($exec + "/docker.pid"),
		"hosts": [$sock], "debug": true,
		"bridge": "none", "iptables": false, "ip6tables": false,
		"ip-forward": false, "ip-masq": false, "userland-proxy": false,
		"storage-driver": $driver,
		"exec-opts": ["native.cgroupdriver=cgroupfs"], "cgroup-parent": $parent,
		"runtimes": {"corral": {"path": $corral}},
		"deprecated-key-path": ($exec + "/key.json")
	}' >"$WORK/daemon.json"
	cp "$WORK/daemon.json" "$LOGDIR/daemon.json"
}

# wait_daemon waits up to 60s for the API; fails if dockerd exits first.
wait_daemon() {
	local i
	for ((i = 0; i < 120; i++)); do
		kill -0 "$DOCKERD_PID" 2>/dev/null || return 1
		timeout 5 "$DOCKER" version >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

# start_dockerd starts dockerd with the first storage driver that works.
start_dockerd() {
	local driver
	for driver in $STORAGE_DRIVER; do
		write_config "$driver"
		log "starting $DOCKERD ($("$DOCKERD" --version)) with storage driver $driver"
		printf '==== dockerd, storage driver %s\n' "$driver" >>"$LOGDIR/dockerd.log"
		"$DOCKERD" --config-file "$WORK/daemon.json" </dev/null >>"$LOGDIR/dockerd.log" 2>&1 &
		DOCKERD_PID=$!
		if wait_daemon; then
			log "dockerd $(dk version -f '{{.Server.Version}} (API {{.Server.APIVersion}})') is up; client $(dk version -f '{{.Client.Version}}')"
			return 0
		fi
		log "dockerd did not come up with $driver; see $LOGDIR/dockerd.log"
		stop_dockerd
	done
	return 1
}

# stop_dockerd stops dockerd (TERM, then KILL after 20s).
stop_dockerd() {
	local i
	[[ -n ${DOCKERD_PID:-} ]] || return 0
	kill -TERM "$DOCKERD_PID" 2>/dev/null || true
	for ((i = 0; i < 40; i++)); do
		kill -0 "$DOCKERD_PID" 2>/dev/null || break
		sleep 0.5
	done
	kill -KILL "$DOCKERD_PID" 2>/dev/null || true
	wait "$DOCKERD_PID" 2>/dev/null || true
	DOCKERD_PID=""
}

# import_busybox makes busybox:latest from a busybox-static rootfs.
import_busybox() {
	bash "$REPO/scripts/busybox-rootfs.sh" "$WORK/rootfs" >&2
	tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
	dk import --change 'CMD ["sh"]' "$WORK/busybox.tar" busybox:latest >/dev/null
}

# check_setup checks what the sitting itself relies on.
check_setup() {
	CHECK_LABEL=setup
	local ctr
	ctr=$(ps -o pid=,ppid=,comm= -C containerd 2>/dev/null | awk -v d="$DOCKERD_PID" '$2 == d')
	if [[ -n $ctr ]]; then pass "dockerd started its own containerd"; else fail "dockerd started its own containerd" "no containerd child of dockerd $DOCKERD_PID"; fi
	# shellcheck disable=SC2016 # a Go template.
	check_match "docker info lists the corral runtime" 'corral' "$(dk info -f '{{range $k, $v := .Runtimes}}{{$k}} {{end}}' 2>&1)"
	check_eq "docker info: cgroup driver" cgroupfs "$(dk info -f '{{.CgroupDriver}}' 2>&1)"
	check_eq "busybox:latest imported" "busybox:latest" "$(dk image ls --format '{{.Repository}}:{{.Tag}}' busybox 2>&1)"
}

# ---------------------------------------------------------------------------
# The scenario, once a variant.

# variant_args prints the docker run options of variant $1, one a line.
variant_args() {
	case $1 in
	runc) printf '%s\n' --runtime runc ;;
	corral) printf '%s\n' --runtime corral ;;
	corral-unconfined) printf '%s\n' --runtime corral --security-opt seccomp=unconfined ;;
	*) die "unknown variant $1" ;;
	esac
}

# scenario runs every check for variant $1.
scenario() {
	CHECK_LABEL=$1
	local -a rt
	mapfile -t rt < <(variant_args "$1")
	RUN=(run --network none "${rt[@]}")
	log "variant $1: docker ${RUN[*]}"
	printf '==== variant %s\n' "$1" >>"$LOGDIR/runtime-corral.log"
	scenario_run "$1"
	scenario_logs "$1-logs"
	local c=$1-c1
	check_rc "run -d with --memory 64m --cpus 0.5 --pids-limit 50" 0 \
		dk "${RUN[@]}" -d --memory 64m --cpus 0.5 --pids-limit 50 --name "$c" busybox sleep 1000
	if [[ $(insp "$c" '{{.State.Running}}') != true ]]; then
		fail "$c is running" "$(insp "$c" '{{.State.Status}} {{.State.Error}}')"
		dk rm -f "$c" >/dev/null 2>&1 || true
		return
	fi
	# The OCI config dockerd wrote, kept for whoever works on the runtime.
	cp "$EXEC_ROOT/containerd/daemon/io.containerd.runtime.v2.task/moby/$(insp "$c" '{{.Id}}')/config.json" \
		"$LOGDIR/config-$c.json" 2>/dev/null || log "no bundle config.json for $c"
	scenario_limits "$c"
	scenario_devices "$c"
	scenario_exec "$c"
	scenario_top_stats "$c"
	scenario_pause "$c"
	scenario_update "$c"
	scenario_stop "$c"
	scenario_rm_f "$1-c2"
}

# scenario_run: a first container, exit status, seccomp.
scenario_run() {
	check_rc "run --rm echo hi" 0 dk "${RUN[@]}" --rm busybox echo hi
	check_eq "run --rm echo hi: output" hi "$OUT"
	check_rc "run: exit status 3 propagated" 3 dk "${RUN[@]}" --rm busybox sh -c 'exit 3'
	local want=2
	[[ $1 != *unconfined ]] || want=0
	capture dk "${RUN[@]}" --rm busybox sh -c 'grep ^Seccomp: /proc/self/status'
	check_eq "seccomp mode in the container (2 filter, 0 none)" "Seccomp:	$want" "$OUT"
	capture dk ps -aq --filter "name=^$1"
	check_eq "run --rm left no container" "" "$OUT"
}

# scenario_logs: stdout and stderr of a detached container via docker logs.
scenario_logs() {
	local c=$1
	check_rc "logs: run -d" 0 dk "${RUN[@]}" -d --name "$c" busybox sh -c 'echo out; echo err >&2'
	capture dk wait "$c"
	check_eq "logs: docker wait exit code" 0 "$OUT"
	check_eq "logs: stdout" out "$(dk logs "$c" 2>/dev/null)"
	check_eq "logs: stderr" err "$(dk logs "$c" 2>&1 >/dev/null)"
	check_rc "logs: rm" 0 dk rm "$c"
}

# cgroup_value C CONTROLLER FILE prints FILE of C's cgroup as the host sees it.
cgroup_value() {
	local pid dir
	pid=$(insp "$1" '{{.State.Pid}}')
	dir=$(cgroup_dir "$pid" "$2" 2>/dev/null) || {
		echo "no $2 cgroup for pid $pid"
		return
	}
	cat "$dir/$3" 2>&1 || true
}

# inside C FILE prints a cgroup file as the container sees it.
inside() { dk exec "$1" cat "/sys/fs/cgroup/$2" 2>&1 || true; }

# scenario_limits: the limits via inspect, inside, and in the host cgroup.
scenario_limits() {
	local c=$1 pid dir
	check_eq "inspect: HostConfig.Memory" 67108864 "$(insp "$c" '{{.HostConfig.Memory}}')"
	check_eq "inspect: HostConfig.NanoCpus" 500000000 "$(insp "$c" '{{.HostConfig.NanoCpus}}')"
	check_eq "inspect: HostConfig.PidsLimit" 50 "$(insp "$c" '{{.HostConfig.PidsLimit}}')"
	check_eq "inside: memory.limit_in_bytes" 67108864 "$(inside "$c" memory/memory.limit_in_bytes)"
	check_eq "inside: memory.memsw.limit_in_bytes" 134217728 "$(inside "$c" memory/memory.memsw.limit_in_bytes)"
	check_eq "inside: cpu.cfs_quota_us" 50000 "$(inside "$c" cpu/cpu.cfs_quota_us)"
	check_eq "inside: cpu.cfs_period_us" 100000 "$(inside "$c" cpu/cpu.cfs_period_us)"
	check_eq "inside: pids.max" 50 "$(inside "$c" pids/pids.max)"
	check_eq "host cgroup: memory.limit_in_bytes" 67108864 "$(cgroup_value "$c" memory memory.limit_in_bytes)"
	check_eq "host cgroup: cpu.cfs_quota_us" 50000 "$(cgroup_value "$c" cpu cpu.cfs_quota_us)"
	check_eq "host cgroup: pids.max" 50 "$(cgroup_value "$c" pids pids.max)"
	pid=$(insp "$c" '{{.State.Pid}}')
	dir=$(cgroup_dir "$pid" memory 2>&1 || true)
	check_match "host cgroup is <per-run>/$CGROUP_PARENT/<id>" \
		"/$CGROUP_PARENT/$(insp "$c" '{{.Id}}')\$" "$dir"
}

# scenario_devices: the devices cgroup keeps the container (which has
# CAP_MKNOD, and "b *:* m" in its device rules) from opening host devices:
# a node for block device 7:0 (/dev/loop0, which the host may open) is made
# and opened read-only, nothing is read.
scenario_devices() {
	local c=$1 list
	list=$(cgroup_value "$c" devices devices.list)
	if [[ -n $list && $list != *"a *:* rwm"* ]]; then
		pass "host cgroup: devices.list is not allow-all"
	else
		fail "host cgroup: devices.list is not allow-all" "$list"
	fi
	[[ -b /dev/loop0 ]] || return 0
	capture dk exec "$c" sh -c 'mknod /tmp/loop0 b 7 0 && exec 3</tmp/loop0 && echo opened'
	if [[ $RC != 0 && $OUT != *opened* ]]; then
		pass "devices: a mknod'ed block device cannot be opened"
	else
		fail "devices: a mknod'ed block device cannot be opened" "$OUT"
	fi
}

# scenario_exec: exit status, user, env, cwd, namespaces and cgroup of exec.
scenario_exec() {
	local c=$1 pid want
	check_rc "exec echo" 0 dk exec "$c" echo ok
	check_eq "exec echo: output" ok "$OUT"
	check_rc "exec: exit status 7 propagated" 7 dk exec "$c" sh -c 'exit 7'
	check_rc "exec -u 1000" 0 dk exec -u 1000 "$c" id -u
	check_eq "exec -u 1000: id -u" 1000 "$OUT"
	capture dk exec -u 1000:1000 "$c" id -g
	check_eq "exec -u 1000:1000: id -g" 1000 "$OUT"
	# shellcheck disable=SC2016 # expanded by the container's shell.
	capture dk exec -e FOO=bar -w /tmp "$c" sh -c 'echo "$FOO $PWD"'
	check_eq "exec -e -w: env and cwd" "bar /tmp" "$OUT"
	capture dk exec "$c" sh -c 'tr "\0" " " </proc/1/cmdline'
	check_eq "exec sees the container's pid 1" "sleep 1000 " "$OUT"
	pid=$(insp "$c" '{{.State.Pid}}')
	want=$(grep ':memory:' "/proc/$pid/cgroup" 2>&1 || true)
	capture dk exec "$c" grep :memory: /proc/self/cgroup
	check_eq "exec joins the container's memory cgroup" "$want" "$OUT"
}

# scenario_top_stats: docker top and docker stats.
scenario_top_stats() {
	local c=$1
	check_rc "top" 0 dk top "$c"
	check_match "top lists sleep 1000" 'sleep 1000' "$OUT"
	check_rc "stats --no-stream" 0 dk stats --no-stream --format '{{.MemUsage}}|{{.PIDs}}' "$c"
	check_match "stats: memory usage / limit 64MiB, pids" '^[0-9.]+[KMG]?i?B / 64MiB\|[0-9]+$' "$OUT"
	check_match "stats: memory usage non-zero" '^[0-9.]*[1-9][0-9.]*[KMG]?i?B ' "$OUT"
}

# freezer_state C prints the host freezer.state of C's cgroup.
freezer_state() { cgroup_value "$1" freezer freezer.state; }

# scenario_pause: pause and unpause, seen by docker and by the freezer.
scenario_pause() {
	local c=$1
	check_rc "pause" 0 dk pause "$c"
	check_eq "pause: State.Status" paused "$(insp "$c" '{{.State.Status}}')"
	check_eq "pause: host freezer.state" FROZEN "$(freezer_state "$c")"
	check_rc "unpause" 0 dk unpause "$c"
	check_eq "unpause: State.Status" running "$(insp "$c" '{{.State.Status}}')"
	check_eq "unpause: host freezer.state" THAWED "$(freezer_state "$c")"
	check_rc "exec after unpause" 0 dk exec "$c" true
}

# scenario_update: docker update, seen by inspect, inside and on the host.
scenario_update() {
	local c=$1
	check_rc "update --memory 128m --memory-swap 256m --pids-limit 100" 0 \
		dk update --memory 128m --memory-swap 256m --pids-limit 100 "$c"
	check_eq "update: inspect HostConfig.Memory" 134217728 "$(insp "$c" '{{.HostConfig.Memory}}')"
	check_eq "update: inside memory.limit_in_bytes" 134217728 "$(inside "$c" memory/memory.limit_in_bytes)"
	check_eq "update: inside memory.memsw.limit_in_bytes" 268435456 "$(inside "$c" memory/memory.memsw.limit_in_bytes)"
	check_eq "update: inside pids.max" 100 "$(inside "$c" pids/pids.max)"
	# Raising memory above the old swap limit needs memsw written first.
	check_rc "update --memory 512m --memory-swap 1g --cpus 1" 0 \
		dk update --memory 512m --memory-swap 1g --cpus 1 "$c"
	check_eq "update 2: inside memory.limit_in_bytes" 536870912 "$(inside "$c" memory/memory.limit_in_bytes)"
	check_eq "update 2: inside memory.memsw.limit_in_bytes" 1073741824 "$(inside "$c" memory/memory.memsw.limit_in_bytes)"
	check_eq "update 2: inside cpu.cfs_quota_us" 100000 "$(inside "$c" cpu/cpu.cfs_quota_us)"
	capture dk stats --no-stream --format '{{.MemUsage}}' "$c"
	check_match "update 2: stats shows limit 512MiB" ' / 512MiB$' "$OUT"
}

# scenario_stop: docker stop, then rm; the container's cgroup goes with it.
scenario_stop() {
	local c=$1 pid dir
	pid=$(insp "$c" '{{.State.Pid}}')
	dir=$(cgroup_dir "$pid" memory 2>/dev/null || true)
	check_rc "stop -t 1" 0 dk stop -t 1 "$c"
	check_eq "stop: State.Status" exited "$(insp "$c" '{{.State.Status}}')"
	check_eq "stop: State.ExitCode (sleep as pid 1 ignores TERM: KILL)" 137 "$(insp "$c" '{{.State.ExitCode}}')"
	check_rc "rm" 0 dk rm "$c"
	capture dk ps -aq --filter "name=^$c\$"
	check_eq "rm: container gone" "" "$OUT"
	if [[ -n $dir && ! -d $dir ]]; then pass "rm: host cgroup removed"; else fail "rm: host cgroup removed" "still there: '$dir'"; fi
}

# scenario_rm_f: rm -f of a running container.
scenario_rm_f() {
	local c=$1
	check_rc "rm -f a running container: run -d" 0 dk "${RUN[@]}" -d --name "$c" busybox sleep 1000
	check_rc "rm -f a running container" 0 dk rm -f "$c"
	capture dk ps -aq --filter "name=^$c\$"
	check_eq "rm -f: container gone" "" "$OUT"
}

# ---------------------------------------------------------------------------

# inner_cleanup (the EXIT trap inside the namespaces) removes the
# containers, stops dockerd and thaws what is left.
# shellcheck disable=SC2317 # called by trap.
inner_cleanup() {
	local rc=$? ids
	set +e
	if [[ -n ${DOCKERD_PID:-} ]]; then
		mapfile -t ids < <(dk ps -aq 2>/dev/null)
		((${#ids[@]} == 0)) || dk rm -f "${ids[@]}" >/dev/null 2>&1
		stop_dockerd
	fi
	# Thaw anything left paused: frozen tasks would not die with the namespace.
	cgroups_thaw
	exit "$rc"
}

# cgroups_thaw thaws every freezer cgroup below the per-run one.
# shellcheck disable=SC2317 # called from the trap.
cgroups_thaw() {
	local d f
	for d in $CGROUP_DIRS; do
		while read -r f; do echo THAWED >"$f" 2>/dev/null; done < <(find "$d" -name freezer.state 2>/dev/null)
	done
}

inner() {
	[[ -n ${LOGDIR:-} && -d $LOGDIR ]] || die "no log directory"
	DOCKERD_PID=""
	trap inner_cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	mount -t tmpfs -o mode=0755 dockerd-run /run
	# containerd's opt plugin makes /opt/containerd; dockerd may write /etc/docker.
	mount -t tmpfs -o mode=0755 dockerd-opt /opt
	[[ ! -d /etc/docker ]] || mount -t tmpfs -o mode=0755 dockerd-etc /etc/docker
	ip link set lo up
	mkdir -p "$EXEC_ROOT" "$DATA_ROOT" "$WORK/tmp" "$WORK/cli"
	# The shims write runc-process*.json files into TMPDIR; the CLI its config.
	export TMPDIR=$WORK/tmp DOCKER_CONFIG=$WORK/cli
	: >>"$LOGDIR/runtime-corral.log"
	write_runtime
	start_dockerd || die "dockerd did not start; see $LOGDIR/dockerd.log"
	import_busybox || die "cannot import the busybox image"
	check_setup
	local v
	for v in $VARIANTS; do scenario "$v"; done
	CHECK_LABEL=teardown
	stop_dockerd
	if pgrep -x containerd >/dev/null; then fail "containerd exits with dockerd" "$(pgrep -a containerd)"; else pass "containerd exits with dockerd"; fi
	check_summary
	if check_failed_in 'corral*'; then exit 1; fi
	exit 0
}

# settings reads the environment and checks the tools.
settings() {
	CORRAL=${1:-${CORRAL:-/usr/local/bin/corral-runc}}
	DOCKER=${DOCKER:-$(command -v docker || true)}
	DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
	DOCKER_TIMEOUT=${DOCKER_TIMEOUT:-60}
	STORAGE_DRIVER=${STORAGE_DRIVER:-overlay2 vfs}
	RUNTIME_TRACE=${RUNTIME_TRACE:-1}
	VARIANTS=${VARIANTS:-runc corral corral-unconfined}
	[[ -x $DOCKERD ]] || die "$DOCKERD not found: apt-get install docker.io"
	command -v containerd >/dev/null || die "containerd not found: apt-get install docker.io"
	[[ -n $DOCKER && -x $DOCKER ]] || die "docker CLI not found"
	[[ $VARIANTS != *corral* || -x $CORRAL ]] || die "corral not found at $CORRAL"
	command -v jq >/dev/null || die "jq not found"
	LOGDIR=${DOCKERD_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/corral-dockerd.XXXXXX")}
	mkdir -p "$LOGDIR"
	export CORRAL DOCKER DOCKERD DOCKER_TIMEOUT STORAGE_DRIVER RUNTIME_TRACE VARIANTS LOGDIR
}

# interrupt asks the sitting's pid 1 (the inner script) to clean up and end.
# shellcheck disable=SC2317 # called by trap.
interrupt() {
	local pid
	pid=$(pgrep -P "$SITTING" | head -n1) || true
	[[ -z $pid ]] || kill -TERM "$pid" 2>/dev/null || true
}

# remove_cgroups removes the per-run cgroups and what runtimes left at the
# root under the containers' parent name.
# shellcheck disable=SC2317 # called by trap.
remove_cgroups() {
	local -a dirs
	mapfile -t dirs < <(printf '%s\n' "$CGROUP_DIRS"; cgroups_at_root "$CGROUP_PARENT")
	cgroups_remove "${dirs[@]}"
}

main() {
	[[ $(id -u) == 0 ]] || die "must run as root"
	settings "$@"
	CGROUP_DIRS=$(cgroups_create "corral-dockerd-$$") || die "cannot create the per-run cgroups"
	# Relative, so below the cgroup of the shims: the per-run cgroup. runc
	# 1.1.5 resolves it against the hierarchy's root on the hybrid unified
	# hierarchy, hence a name of this run's own, removed there too.
	CGROUP_PARENT=corral-dockerd-$$-containers
	export CGROUP_DIRS CGROUP_PARENT
	trap remove_cgroups EXIT
	# A pipe of its own as stdin, never the host's /dev/null.
	: | (
		# shellcheck disable=SC2086 # one directory a line.
		cgroups_join "$BASHPID" $CGROUP_DIRS
		exec unshare --mount --net --pid --fork --kill-child --mount-proc --propagation private \
			-- "${BASH_SOURCE[0]}" __inner
	) &
	SITTING=$!
	trap interrupt INT TERM
	local rc=0
	wait "$SITTING" || rc=$?
	while kill -0 "$SITTING" 2>/dev/null; do
		rc=0
		wait "$SITTING" || rc=$?
	done
	trap - INT TERM EXIT
	remove_cgroups || rc=2
	log "logs: $LOGDIR/dockerd.log, $LOGDIR/runtime-corral.log"
	exit "$rc"
}

if [[ ${1:-} == __inner ]]; then
	inner
else
	main "$@"
fi
