#!/usr/bin/env bash
# runtime.sh — time `RUNTIME run` of a busybox /bin/true container for corral,
# runc and crun in one sitting, and report median/p90 wall time, peak RSS
# and the ratios against crun and runc.  See bench/README.md.
#
# Environment:
#   N         timed runs per runtime (default 50)
#   WARMUP    untimed runs per runtime first (default 3)
#   RSS_RUNS  extra runs under GNU time for the peak RSS (default 5)
#   CORRAL    runc-compatible corral binary (default /usr/local/bin/corral-runc;
#             a binary named `corral` is called as `corral runtime ...`)
#   RUNC      default /usr/sbin/runc       CRUN  default /usr/bin/crun
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
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

# make_bundle writes a bundle running /bin/true without a terminal into $1.
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

# run_once runs container $2 with runtime $1 and prints its wall time in
# microseconds; with $3 set, GNU time writes the peak RSS (KiB) to file $3.
run_once() {
	local label=$1 id=$2 rssfile=${3:-} t0 t1 rc=0
	local -a base cmd
	mapfile -t base < <(runtime_cmd "${BIN[$label]}" "$SCRATCH/state/$label")
	cmd=("${base[@]}")
	[[ -z $rssfile ]] || cmd=(/usr/bin/time -f %M -o "$rssfile" "${base[@]}")
	t0=${EPOCHREALTIME/./}
	"${cmd[@]}" run -b "$SCRATCH/bundle" "$id" <"$SCRATCH/stdin" >>"$SCRATCH/out.$label" 2>&1 || rc=$?
	t1=${EPOCHREALTIME/./}
	"${base[@]}" delete -f "$id" >/dev/null 2>&1 || true
	if ((rc != 0)); then
		printf '%s run %s: exit status %d\n' "$label" "$id" "$rc" >>"$SCRATCH/out.$label"
		return 1
	fi
	printf '%s\n' $((t1 - t0))
}

# bench_round runs one container per runtime (round robin, so drift in the
# machine's load falls on all of them alike); $1 is the round number.
bench_round() {
	local i=$1 label us
	for label in "${LABELS[@]}"; do
		[[ $label == crun ]] && crun_workaround on
		if us=$(run_once "$label" "bench-$label-$$-$i"); then
			((i <= 0)) || printf '%s\n' "$us" >>"$SCRATCH/times.$label"
		else
			printf 'x\n' >>"$SCRATCH/fails.$label"
		fi
		[[ $label == crun ]] && crun_workaround off
	done
	return 0
}

# measure_rss runs RSS_RUNS containers per runtime under GNU time.
measure_rss() {
	local label j
	for label in "${LABELS[@]}"; do
		[[ $label == crun ]] && crun_workaround on
		for ((j = 1; j <= RSS_RUNS; j++)); do
			if run_once "$label" "bench-rss-$label-$$-$j" "$SCRATCH/rss.tmp" >/dev/null; then
				cat "$SCRATCH/rss.tmp" >>"$SCRATCH/rss.$label"
			else
				printf 'x\n' >>"$SCRATCH/fails.$label"
			fi
		done
		[[ $label == crun ]] && crun_workaround off
	done
	return 0
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

# stats prints "median_ms p90_ms" of the microsecond values in file $1.
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 }
		END {
			m = int((NR + 1) / 2); p = int(NR * 0.9); if (p < NR * 0.9) p++
			printf "%.2f %.2f\n", v[m] / 1000, v[p] / 1000
		}'
}

report() {
	local label med p90 rss fails
	declare -A MED
	for label in "${LABELS[@]}"; do
		[[ -s $SCRATCH/times.$label ]] && MED[$label]=$(stats "$SCRATCH/times.$label" | cut -d' ' -f1)
	done
	printf '\n%-8s %5s %6s %10s %9s %13s %8s %8s\n' runtime runs failed 'median ms' 'p90 ms' \
		'peak RSS KiB' 'vs crun' 'vs runc'
	for label in "${LABELS[@]}"; do
		fails=$(grep -c x "$SCRATCH/fails.$label" 2>/dev/null || true)
		if [[ ! -s $SCRATCH/times.$label ]]; then
			printf '%-8s %5d %6s %10s\n' "$label" 0 "${fails:-0}" 'all failed'
			continue
		fi
		read -r med p90 < <(stats "$SCRATCH/times.$label")
		rss=$(sort -n "$SCRATCH/rss.$label" 2>/dev/null | tail -n1)
		printf '%-8s %5d %6s %10s %9s %13s %8s %8s\n' "$label" \
			"$(wc -l <"$SCRATCH/times.$label")" "${fails:-0}" "$med" "$p90" "${rss:--}" \
			"$(ratio "$med" "${MED[crun]:-}")" "$(ratio "$med" "${MED[runc]:-}")"
	done
}

# ratio prints $1/$2 with two decimals, or - when $2 is unknown.
ratio() {
	[[ -n ${2:-} ]] || {
		echo -
		return
	}
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx\n", a / b }'
}

inner() {
	SCRATCH=$1
	mount -t tmpfs -o mode=0700 corral-bench "$SCRATCH"
	mkdir -p "$SCRATCH/state"
	: >"$SCRATCH/stdin"
	: >"$SCRATCH/empty"
	make_bundle "$SCRATCH/bundle"
	declare -gA BIN=([corral]=$CORRAL [runc]=$RUNC [crun]=$CRUN)
	read -r -a LABELS <<<"$BENCH_LABELS"
	local i
	log "${#LABELS[@]} runtimes, $WARMUP warm-up + $N timed runs each, round robin"
	for ((i = 1 - WARMUP; i <= N; i++)); do bench_round "$i"; done
	measure_rss
	report
	for i in "${LABELS[@]}"; do
		[[ ! -s $SCRATCH/fails.$i ]] || { log "last output of $i:" && tail -n5 "$SCRATCH/out.$i" >&2; }
	done
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
}

main() {
	[[ $(id -u) == 0 ]] || die "must run as root"
	[[ -x /usr/bin/time ]] || die "need GNU time at /usr/bin/time (apt-get install time)"
	export N=${N:-50} WARMUP=${WARMUP:-3} RSS_RUNS=${RSS_RUNS:-5}
	export CORRAL=${CORRAL:-/usr/local/bin/corral-runc} RUNC=${RUNC:-/usr/sbin/runc} CRUN=${CRUN:-/usr/bin/crun}
	[[ -x $RUNC ]] || die "runc not found at $RUNC: it writes the bundle's config (set RUNC)"
	BENCH_LABELS=""
	if [[ -x $CORRAL ]]; then BENCH_LABELS=corral; else log "corral not found at $CORRAL: skipped (set CORRAL)"; fi
	BENCH_LABELS+=" runc"
	if [[ -x $CRUN ]]; then BENCH_LABELS+=" crun"; else log "crun not found at $CRUN: skipped"; fi
	export BENCH_LABELS
	versions
	log "$(nproc) cores, kernel $(uname -r)"
	local scratch rc=0
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/corral-bench.XXXXXX")
	unshare --mount --net --uts --ipc --pid --fork --mount-proc --propagation private -- \
		"${BASH_SOURCE[0]}" __inner "$scratch" || rc=$?
	rmdir "$scratch"
	return "$rc"
}

if [[ ${1:-} == __inner ]]; then
	inner "$2"
else
	main "$@"
fi
