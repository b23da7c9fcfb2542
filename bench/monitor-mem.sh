#!/usr/bin/env bash
# monitor-mem.sh — the memory of corral's per-container monitor beside
# conmon's (podman's), with N idle containers each (busybox `sleep`).
#
#   sudo bench/monitor-mem.sh                 # N=1 and N=50
#   sudo NS="1 10 50" bench/monitor-mem.sh
#   sudo MONITOR=/usr/local/bin/corral bench/monitor-mem.sh   # `corral monitor`
#
# corral: the monitor package's TestMonitorMemory, built as a test binary,
# starts N monitors through monitor.Start (each its own busybox bundle and
# container, `sleep 1000`) inside the test sandbox (private namespaces, a
# tmpfs), and logs their mean PSS, RSS and anonymous memory from
# /proc/PID/smaps_rollup: once idle, and again idle after some work (100
# status, 5 stats, 5 pids calls and 2 execs each). MONITOR is what
# Config.Binary points at: by default corral-monitor built from this tree,
# with corral-runc beside it (as installed); the corral binary itself
# measures `corral monitor`.
#
# conmon: in private mount and PID namespaces with a tmpfs for podman's
# --root, --runroot and --tmpdir (vfs storage, an image imported from the
# host's busybox), N `podman run -d --network none --runtime runc
# --cgroups no-conmon IMAGE sleep 1000`, then the mean PSS, RSS and
# anonymous memory of the N conmon processes. Its containers are removed,
# the PID namespace takes whatever is left, and the cgroup directories runc
# made under the sitting's own --cgroup-parent are removed.
#
# go floor: N copies of the smallest Go program a monitor could be (listen
# on a unix socket, wait for SIGCHLD; one P, GOGC=off, one
# debug.FreeOSMemory as the monitor does once started), built from this
# script, static: what any monitor written in Go costs before it does
# anything, so the figure to hold against conmon's when choosing the
# monitor's language.
#
# Needs root, go, busybox-static; podman, runc and conmon for the
# comparison (skipped with a message when absent).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
NS=${NS:-"1 50"}

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 2
}

# conmon_inner N TAG DIR runs inside the namespaces: N podman containers,
# then one line "conmon N PSS RSS ANON" (KiB, means).
conmon_inner() {
	local n=$1 tag=$2 i pss=0 rss=0 anon=0 count=0 p a b c
	dir=$3 # global: the EXIT trap uses it
	mount -t tmpfs -o mode=0700 corral-bench "$dir"
	mkdir -p "$dir/rootfs/bin" "$dir/tmp"
	cp /bin/busybox "$dir/rootfs/bin/busybox"
	ln -s busybox "$dir/rootfs/bin/sleep"
	P=(podman --root "$dir/root" --runroot "$dir/run" --tmpdir "$dir/tmp"
		--storage-driver vfs --cgroup-manager cgroupfs --events-backend file --runtime runc)
	trap '"${P[@]}" rm -af -t 0 >/dev/null 2>&1 || true; umount -l "$dir"' EXIT
	tar -C "$dir/rootfs" -c . | "${P[@]}" import -q - localhost/monitor-mem:latest >/dev/null
	for ((i = 0; i < n; i++)); do
		"${P[@]}" run -d --network none --cgroups no-conmon --cgroup-parent "/$tag" \
			localhost/monitor-mem sleep 1000 >/dev/null
	done
	sleep 1.5 # as the corral side: a quiet moment before measuring
	for p in $(pgrep -x conmon); do
		read -r a b c < <(awk '/^Pss:/ { p = $2 } /^Rss:/ { r = $2 } /^Anonymous:/ { a = $2 }
			END { print p, r, a }' "/proc/$p/smaps_rollup")
		pss=$((pss + a)) rss=$((rss + b)) anon=$((anon + c)) count=$((count + 1))
	done
	((count == n)) || die "found $count conmon processes, want $n"
	echo "conmon $n $((pss / n)) $((rss / n)) $((anon / n))"
}

# build_floor builds the go floor program into $1.
build_floor() {
	local dir=$1
	mkdir -p "$dir"
	cat >"$dir/main.go" <<-'EOF'
		// The smallest Go program a monitor could be, for bench/monitor-mem.sh.
		package main

		import (
			"net"
			"os"
			"os/signal"
			"runtime/debug"
			"syscall"
		)

		func main() {
			ln, err := net.Listen("unix", os.Args[1])
			if err != nil {
				panic(err)
			}
			go func() {
				for {
					if c, err := ln.Accept(); err == nil {
						c.Close()
					}
				}
			}()
			chld := make(chan os.Signal, 1)
			signal.Notify(chld, syscall.SIGCHLD)
			debug.FreeOSMemory()
			<-chld
		}
	EOF
	printf 'module floor\n\ngo 1.22\n' >"$dir/go.mod"
	(cd "$dir" && CGO_ENABLED=0 go build -trimpath -o floor .)
}

# floor N DIR prints "floor N PSS RSS ANON" (KiB, means) of N copies.
floor() {
	local n=$1 dir=$2 i p a b c pss=0 rss=0 anon=0 pids=()
	for ((i = 0; i < n; i++)); do
		GOMAXPROCS=1 GOGC=off "$dir/floor" "$dir/s$i" &
		pids+=($!)
	done
	for ((i = 0; i < n; i++)); do
		while [[ ! -S $dir/s$i ]]; do sleep 0.01; done
	done
	sleep 1.5 # as the other two
	for p in "${pids[@]}"; do
		read -r a b c < <(awk '/^Pss:/ { p = $2 } /^Rss:/ { r = $2 } /^Anonymous:/ { a = $2 }
			END { print p, r, a }' "/proc/$p/smaps_rollup")
		pss=$((pss + a)) rss=$((rss + b)) anon=$((anon + c))
	done
	kill "${pids[@]}"
	wait "${pids[@]}" 2>/dev/null || true
	rm -f "$dir"/s*
	echo "floor $n $((pss / n)) $((rss / n)) $((anon / n))"
}

if [[ ${1:-} == __conmon ]]; then
	conmon_inner "$2" "$3" "$4"
	exit
fi

[[ $(id -u) == 0 ]] || die "must run as root"
command -v go >/dev/null || die "needs go"
[[ -x /bin/busybox ]] || die "needs /bin/busybox (apt-get install busybox-static)"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/corral-monitor-mem.XXXXXX")
TAG=corral-monitor-mem-$$
cleanup() {
	local d
	# runc's cgroup directories under the sitting's --cgroup-parent.
	while IFS= read -r d; do rmdir "$d" 2>/dev/null || log "left $d"; done < <(
		find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -depth -type d -path "*/$TAG*" 2>/dev/null)
	rm -rf "$SCRATCH"
}
trap cleanup EXIT

log "building the monitor's test binary${MONITOR:+ (monitor: $MONITOR)}"
(cd "$REPO" && go test -c -o "$SCRATCH/monitor.test" ./monitor)
if [[ -z ${MONITOR:-} ]]; then
	mkdir -p "$SCRATCH/bin"
	(cd "$REPO" && bash cmd/corral-monitor/build.sh "$SCRATCH/bin/corral-monitor" &&
		go build -trimpath -o "$SCRATCH/bin/corral-runc" ./cmd/corral-runc)
	MONITOR=$SCRATCH/bin/corral-monitor
fi
log "$(nproc) cores, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A IDLE WORKED CONMON FLOOR
for n in $NS; do
	log "corral: $n monitors"
	# The test's regression bound may fail (say, for the corral binary as
	# the monitor): the figures count all the same.
	out=$(cd "$REPO/monitor" && MONITOR_MEM_N=$n CORRAL_MONITOR_BINARY=$MONITOR \
		"$SCRATCH/monitor.test" -test.run '^TestMonitorMemory$' -test.v -test.count=1 2>&1) ||
		log "TestMonitorMemory failed: $(grep -E 'Error|error|bound' <<<"$out" | head -n3)"
	grep -E 'monitors, ' <<<"$out" | sed 's/^ *[a-z_]*\.go:[0-9]*: /  /' >&2
	IDLE[$n]=$(sed -n 's/.*monitors, idle: PSS \([0-9]*\) KiB.*/\1/p' <<<"$out")
	WORKED[$n]=$(sed -n 's/.*monitors, idle after work: PSS \([0-9]*\) KiB.*/\1/p' <<<"$out")
	[[ -n ${IDLE[$n]} && -n ${WORKED[$n]} ]] || die "no figures from TestMonitorMemory: $out"
done

build_floor "$SCRATCH/floor"
for n in $NS; do
	read -r _ _ pss rss anon < <(floor "$n" "$SCRATCH/floor")
	log "go floor: $n programs: PSS $pss KiB each (RSS $rss KiB, anonymous $anon KiB)"
	FLOOR[$n]=$pss
done

if command -v podman >/dev/null && command -v conmon >/dev/null && [[ -x /usr/sbin/runc ]]; then
	for n in $NS; do
		log "conmon: $n podman containers"
		mkdir -p "$SCRATCH/pod"
		line=$(unshare --mount --pid --fork --mount-proc --propagation private -- \
			"$0" __conmon "$n" "$TAG" "$SCRATCH/pod")
		read -r _ _ pss rss anon <<<"$line"
		log "  $n conmons: PSS $pss KiB each (RSS $rss KiB, anonymous $anon KiB)"
		CONMON[$n]=$pss
	done
else
	log "podman, conmon or runc missing: no comparison"
fi

ratio() { [[ -n ${2:-} ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }' || echo -; }
printf '\nmean PSS per monitor, KiB (%s)\n' "$(basename "$MONITOR")"
printf '%5s %12s %16s %9s %8s %12s %14s %13s\n' N 'corral idle' 'idle after work' 'go floor' conmon \
	'idle/conmon' 'worked/conmon' 'floor/conmon'
for n in $NS; do
	printf '%5s %12s %16s %9s %8s %12s %14s %13s\n' "$n" "${IDLE[$n]}" "${WORKED[$n]}" "${FLOOR[$n]}" \
		"${CONMON[$n]:--}" "$(ratio "${IDLE[$n]}" "${CONMON[$n]:-}")" \
		"$(ratio "${WORKED[$n]}" "${CONMON[$n]:-}")" "$(ratio "${FLOOR[$n]}" "${CONMON[$n]:-}")"
done
