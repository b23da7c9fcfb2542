#!/usr/bin/env bash
# runtime-ops.sh — time three runtime operations for corral, runc and crun in
# one sitting, round robin, and report median/p90 wall time and the ratios
# against crun and runc.  See bench/README.md.
#
#   run     `run` of /bin/true with a 64 MiB memory and a 64 pids limit
#   exec    `exec ID /bin/true` in a long-running (sleep) container
#   pause   `pause ID` then `resume ID` of that container: the pair, and
#           each on its own
#
# Environment:
#   N         timed rounds (default 50)
#   WARMUP    untimed rounds first (default 3)
#   SCENARIOS which of run, exec and pause to time (default all three)
#   PROFILE   run|exec|pause: after the timing, profile such operations of
#             each runtime: perf stat means, perf trace of the syscalls over
#             1 ms, strace -f -c -w summary
#   PERF_RUNS operations per runtime under perf stat (default 10)
#   CORRAL    runc-compatible corral binary (default /usr/local/bin/corral-runc;
#             a binary named `corral` is called as `corral runtime ...`)
#   RUNC      default /usr/sbin/runc       CRUN  default /usr/bin/crun
#   CORRAL_BASE  a second corral binary (say, the build before a change),
#             timed in the same sitting under the label "base"
#   GAP       seconds of quiet before each runtime's turn (default 0.1)
#   SEED      seed of the per-round random order (default: the script's pid)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

readonly MEM_LIMIT=67108864 PIDS_LIMIT=64

# make_bundles writes the three bundles, all on one rootfs: bundle
# (/bin/true), limits (/bin/true under the limits) and sleeper.
make_bundles() {
	make_bundle "$SCRATCH/bundle"
	variant_bundle "$SCRATCH/bundle" "$SCRATCH/limits" \
		".linux.resources.memory = {limit: $MEM_LIMIT} | .linux.resources.pids = {limit: $PIDS_LIMIT}"
	variant_bundle "$SCRATCH/bundle" "$SCRATCH/sleeper" '.process.args = ["/bin/sleep", "1000000"]'
}

# sleeper_id prints the ID of runtime $1's long-running container.
sleeper_id() { printf 'bench-sleep-%s-%s-0\n' "$1" "$BENCH_TAG"; }

# op_run times `run` of the limits bundle as container $2 with runtime $1.
op_run() {
	local label=$1 id=$2 rc=0
	rt "$label"
	timed "$label" "${RT[@]}" run -b "$SCRATCH/limits" "$id" || rc=$?
	"${RT[@]}" delete -f "$id" >/dev/null 2>&1 || true
	return "$rc"
}

# op_exec times `exec ID /bin/true` in runtime $1's sleeper.
op_exec() {
	rt "$1"
	timed "$1" "${RT[@]}" exec "$(sleeper_id "$1")" /bin/true
}

# op_pause times `pause` then `resume` of runtime $1's sleeper and records
# both and their sum; $2 set marks a warm-up.  A failed pause is followed
# by a resume all the same (the container may be frozen); the pair fails
# when either fails.
op_pause() {
	local label=$1 warm=${2:-} id tp=x tr=x
	id=$(sleeper_id "$label")
	rt "$label"
	if timed "$label" "${RT[@]}" pause "$id"; then tp=$US; fi
	if timed "$label" "${RT[@]}" resume "$id"; then tr=$US; fi
	record pause "$label" "$tp" "$warm"
	record resume "$label" "$tr" "$warm"
	if [[ $tp == x || $tr == x ]]; then
		record pair "$label" x
	else
		record pair "$label" $((tp + tr)) "$warm"
	fi
}

# round runs scenario $1 once per runtime, round robin (drift in the
# machine's load falls on all alike) in a fresh order; $2 is the round, up
# to 0 a warm-up.
round() {
	local scen=$1 i=$2 label warm=
	((i > 0)) || warm=yes
	round_order
	for label in "${ORDER[@]}"; do
		quiet
		case $scen in
		run | exec)
			if as_runtime "$label" "op_$scen" "$label" "bench-$label-$BENCH_TAG-$i"; then
				record "$scen" "$label" "$US" "$warm"
			else
				record "$scen" "$label" x
			fi
			;;
		pause) as_runtime "$label" op_pause "$label" "$warm" ;;
		esac
	done
}

# start_sleepers starts each runtime's long-running container, detached,
# with stdio files of its own.
start_sleepers() {
	local label
	for label in "${LABELS[@]}"; do
		rt "$label"
		as_runtime "$label" "${RT[@]}" run -d -b "$SCRATCH/sleeper" "$(sleeper_id "$label")" \
			<"$SCRATCH/stdin" >>"$SCRATCH/out.$label" 2>&1 ||
			log "$label: cannot start its sleeper: its exec and pause runs will fail"
	done
}

# limits_of creates container $2 of the limits bundle with runtime $1 and
# logs the limits its cgroups got (not timed: a runtime that skipped them
# would look faster).
limits_of() {
	local label=$1 id=$2 pid mem=- pids=- cg
	rt "$label"
	if ! "${RT[@]}" create -b "$SCRATCH/limits" "$id" <"$SCRATCH/stdin" >>"$SCRATCH/out.$label" 2>&1; then
		log "$label: WARNING: create of the limits bundle failed"
		return 0
	fi
	pid=$("${RT[@]}" state "$id" | jq -r .pid)
	cg=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
	mem=$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes" 2>/dev/null) || true
	cg=$(awk -F: '$2 == "pids" { print $3 }' "/proc/$pid/cgroup")
	pids=$(cat "/sys/fs/cgroup/pids$cg/pids.max" 2>/dev/null) || true
	"${RT[@]}" delete -f "$id" >/dev/null 2>&1 || true
	if [[ $mem == "$MEM_LIMIT" && $pids == "$PIDS_LIMIT" ]]; then
		log "$label: limits applied (memory.limit_in_bytes $mem, pids.max $pids)"
	else
		log "$label: WARNING: limits not applied: memory.limit_in_bytes ${mem:--}, pids.max ${pids:--}"
	fi
}

check_limits() {
	local label
	for label in "${LABELS[@]}"; do
		as_runtime "$label" limits_of "$label" "bench-check-$label-$BENCH_TAG-0"
	done
}

# sleeper_works checks, untimed, that exec runs inside runtime $1's sleeper
# and that pause freezes it.
sleeper_works() {
	local label=$1 id comm st1 st2
	id=$(sleeper_id "$label")
	rt "$label"
	comm=$("${RT[@]}" exec "$id" cat /proc/1/comm <"$SCRATCH/stdin" 2>>"$SCRATCH/out.$label") || true
	"${RT[@]}" pause "$id" >/dev/null 2>&1 || true
	st1=$("${RT[@]}" state "$id" 2>/dev/null | jq -r .status) || true
	"${RT[@]}" resume "$id" >/dev/null 2>&1 || true
	st2=$("${RT[@]}" state "$id" 2>/dev/null | jq -r .status) || true
	if [[ $comm == sleep && $st1 == paused && $st2 == running ]]; then
		log "$label: exec sees the container's pid 1 (sleep); pause/resume: paused, running"
	else
		log "$label: WARNING: exec saw pid 1 as '${comm:0:40}'; state after pause '$st1', after resume '$st2'"
	fi
}

check_sleepers() {
	local label
	for label in "${LABELS[@]}"; do as_runtime "$label" sleeper_works "$label"; done
}

stop_sleepers() {
	local label
	for label in "${LABELS[@]}"; do
		rt "$label"
		as_runtime "$label" "${RT[@]}" delete -f "$(sleeper_id "$label")" >/dev/null 2>&1 || true
	done
}

# profile_op runs one operation of scenario $1 with runtime $2 (as $3th),
# under WRAP; a failure is counted in the tables, a success not.
profile_op() {
	local scen=$1 label=$2 i=$3
	case $scen in
	run | exec)
		as_runtime "$label" "op_$scen" "$label" "bench-prof-$label-$BENCH_TAG-$i" ||
			record "$scen" "$label" x
		;;
	pause) as_runtime "$label" op_pause "$label" yes ;;
	esac
}

# profile prints, for scenario $1, the mean perf stat counters of
# PERF_RUNS operations per runtime (a pause counts with its resume), then
# for one operation per runtime the syscalls that took over 1 ms (perf
# trace: where the wall time waits) and the strace -f -c -w summary.
profile() {
	local scen=$1 label i
	local events=task-clock,context-switches,cpu-migrations,page-faults
	printf '\nprofile of %s: mean of %d operations under perf stat -e %s\n' "$scen" "$PERF_RUNS" "$events"
	printf '%-8s %14s %13s %11s %12s\n' runtime 'task-clock ms' 'ctx switches' migrations 'page faults'
	for label in "${LABELS[@]}"; do
		WRAP=(perf stat -x "," -e "$events" --append -o "$SCRATCH/perf.$label" --)
		for ((i = 1; i <= PERF_RUNS; i++)); do
			quiet
			profile_op "$scen" "$label" "$i"
		done
		awk -F, -v n="$PERF_RUNS" -v l="$label" '/^#/ || NF < 3 { next } { s[$3] += $1 }
			END { printf "%-8s %14.2f %13.1f %11.1f %12.1f\n", l, s["task-clock"] / n,
				s["context-switches"] / n, s["cpu-migrations"] / n, s["page-faults"] / n }' \
			"$SCRATCH/perf.$label"
	done
	for label in "${LABELS[@]}"; do
		WRAP=(perf trace --duration 1 -o "$SCRATCH/trace.$label" --)
		quiet
		profile_op "$scen" "$label" trace
		printf '\nperf trace --duration 1, one %s with %s (syscalls over 1 ms but idle waits):\n' "$scen" "$label"
		grep -vE '^ *$| (futex|nanosleep|sched_yield|epoll_p?wait)\(' "$SCRATCH/trace.$label" | cut -c1-150 || true
	done
	for label in "${LABELS[@]}"; do
		WRAP=(strace -f -c -w -A -o "$SCRATCH/strace.$label" --)
		quiet
		profile_op "$scen" "$label" strace
		printf '\nstrace -f -c -w, one %s with %s (top 15 by time):\n' "$scen" "$label"
		awk '/^% time/ { n = 0 } { if (n++ < 17) print }' "$SCRATCH/strace.$label"
	done
	WRAP=()
}

# wants reports whether scenario $1 is in SCENARIOS.
wants() { [[ " $SCENARIOS " == *" $1 "* ]]; }

inner() {
	inner_setup "$1"
	if [[ -n $CORRAL_BASE ]]; then
		BIN[base]=$CORRAL_BASE
		LABELS+=(base)
	fi
	make_bundles
	local scen i
	log "${#LABELS[@]} runtimes, $WARMUP warm-up + $N timed rounds per scenario ($SCENARIOS), round robin"
	at_exit stop_sleepers
	if wants run; then
		check_limits
		for ((i = 1 - WARMUP; i <= N; i++)); do round run "$i"; done
	fi
	if wants exec || wants pause || [[ $PROFILE == exec || $PROFILE == pause ]]; then
		start_sleepers
		check_sleepers
	fi
	for scen in exec pause; do
		wants "$scen" || continue
		for ((i = 1 - WARMUP; i <= N; i++)); do round "$scen" "$i"; done
	done
	[[ -z $PROFILE ]] || profile "$PROFILE"
	stop_sleepers
	! wants run || table run "run /bin/true, memory $((MEM_LIMIT >> 20)) MiB + pids $PIDS_LIMIT limits"
	! wants exec || table exec "exec /bin/true in a running container"
	if wants pause; then
		table pair "pause + resume (the pair)"
		table pause "pause"
		table resume "resume"
	fi
	show_failures
}

main() {
	export N=${N:-50} WARMUP=${WARMUP:-3} PROFILE=${PROFILE:-} PERF_RUNS=${PERF_RUNS:-10}
	export SCENARIOS=${SCENARIOS:-run exec pause}
	local scen
	for scen in $SCENARIOS; do
		case $scen in
		run | exec | pause) ;;
		*) die "SCENARIOS=$SCENARIOS: want some of run, exec and pause" ;;
		esac
	done
	case $PROFILE in
	'' | run | exec | pause) ;;
	*) die "PROFILE=$PROFILE: want run, exec or pause" ;;
	esac
	if [[ -n $PROFILE ]]; then
		command -v perf >/dev/null || die "PROFILE needs perf (linux-perf)"
		command -v strace >/dev/null || die "PROFILE needs strace"
	fi
	command -v jq >/dev/null || die "need jq (apt-get install jq)"
	export CORRAL_BASE=${CORRAL_BASE:-}
	if [[ -n $CORRAL_BASE ]]; then
		[[ -x $CORRAL_BASE ]] || die "CORRAL_BASE=$CORRAL_BASE: not an executable"
		log "base: $CORRAL_BASE"
	fi
	bench_main "${BASH_SOURCE[0]}"
}

if [[ ${1:-} == __inner ]]; then
	inner "$2"
else
	main "$@"
fi
