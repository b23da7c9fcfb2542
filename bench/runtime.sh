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
#   GAP       seconds of quiet before each runtime's turn (default 0.1)
#   SEED      seed of the per-round random order (default: the script's pid)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

# run_once runs container $2 with runtime $1 and sets US to its wall time;
# with $3 set, GNU time writes the peak RSS (KiB) to file $3.
run_once() {
	local label=$1 id=$2 rssfile=${3:-} rc=0
	local -a cmd
	rt "$label"
	cmd=("${RT[@]}")
	[[ -z $rssfile ]] || cmd=(/usr/bin/time -f %M -o "$rssfile" "${RT[@]}")
	timed "$label" "${cmd[@]}" run -b "$SCRATCH/bundle" "$id" || rc=$?
	"${RT[@]}" delete -f "$id" >/dev/null 2>&1 || true
	return "$rc"
}

# bench_round runs one container per runtime (round robin, so drift in the
# machine's load falls on all of them alike, in a fresh order each round);
# $1 is the round number, and rounds up to 0 are warm-up.
bench_round() {
	local i=$1 label warm=
	((i > 0)) || warm=yes
	round_order
	for label in "${ORDER[@]}"; do
		quiet
		if as_runtime "$label" run_once "$label" "bench-$label-$BENCH_TAG-$i"; then
			record run "$label" "$US" "$warm"
		else
			record run "$label" x
		fi
	done
}

# measure_rss runs RSS_RUNS containers per runtime under GNU time.
measure_rss() {
	local label j
	for label in "${LABELS[@]}"; do
		for ((j = 1; j <= RSS_RUNS; j++)); do
			if as_runtime "$label" run_once "$label" "bench-rss-$label-$BENCH_TAG-$j" "$SCRATCH/rss.tmp"; then
				cat "$SCRATCH/rss.tmp" >>"$SCRATCH/run.rss.$label"
			else
				record run "$label" x
			fi
		done
	done
}

inner() {
	inner_setup "$1"
	make_bundle "$SCRATCH/bundle"
	local i
	log "${#LABELS[@]} runtimes, $WARMUP warm-up + $N timed runs each, round robin"
	for ((i = 1 - WARMUP; i <= N; i++)); do bench_round "$i"; done
	measure_rss
	table run "run /bin/true" rss
	show_failures
}

main() {
	[[ -x /usr/bin/time ]] || die "need GNU time at /usr/bin/time (apt-get install time)"
	export N=${N:-50} WARMUP=${WARMUP:-3} RSS_RUNS=${RSS_RUNS:-5}
	bench_main "${BASH_SOURCE[0]}"
}

if [[ ${1:-} == __inner ]]; then
	inner "$2"
else
	main "$@"
fi
