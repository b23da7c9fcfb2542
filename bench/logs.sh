#!/usr/bin/env bash
# logs.sh — log throughput: a container writes LOG_LINES lines of 100 bytes
# as fast as it can (busybox yes | head -c, then a last line END; stdout a
# pipe; about 1.8 million lines/s into cat here), and the engine logs
# them to its default file driver with rotation (corral and docker:
# json-file, --log-opt max-size=10m --log-opt max-file=3; podman: k8s-file,
# --log-opt max-size=10mb). Timed from `run -d` until the engine's `logs
# --tail 1` shows END (after `wait`), so it is the rate at which
# lines reach the log, the container held up by its monitor when that is
# the slower. corral's daemon, podman and Debian's dockerd in one sitting,
# each with a private store on the sitting's tmpfs, rounds round robin in a
# fresh order, as bench/engine.sh (whose plumbing this uses).
#
# Environment:
#   LOG_LINES   lines per run (default 3000000, 300 MB: long enough that
#               starting the container is a small part of the time)
#   ROUNDS      timed runs per engine (default 3), after one warm-up
#   GAP, SEED, CORRAL, CORRAL_CLI, DOCKER   as for bench/engine.sh
set -euo pipefail

# shellcheck source=bench/engine.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/engine.sh"

# writer is the container's command: LOG_LINES lines of 100 bytes, then END.
# shellcheck disable=SC2016 # the container's shell expands it
writer() {
	printf 'yes "$(printf %%099d 0)" | head -c %d; echo END' $((LOG_LINES * 100))
}

# log_opts prints engine $1's log options, one a line.
log_opts() {
	case $1 in
	podman) printf '%s\n' --log-driver k8s-file --log-opt max-size=10mb ;;
	*) printf '%s\n' --log-opt max-size=10m --log-opt max-file=3 ;;
	esac
}

# last_logged succeeds when engine $1's container $2 has logged END.
last_logged() {
	[[ $(ecmd "$1" logs --tail 1 "$2" 2>/dev/null) == END ]]
}

# log_run runs the writer once on engine $1 and records the time unless $2
# (warm-up) is set.
log_run() {
	local label=$1 warm=${2:-} t0 t1 id i
	local -a opts
	mapfile -t opts < <(log_opts "$label")
	engine_cmd "$label"
	quiet
	t0=${EPOCHREALTIME/./}
	if ! id=$(on_engine "$label" "${CMD[@]}" run -d --network none --cgroup-parent "$(cgroup_parent "$label")" \
		"${opts[@]}" busybox sh -c "$(writer)" 2>>"$SCRATCH/out.$label"); then
		record logs "$label" x
		return
	fi
	ecmd "$label" wait "$id" >/dev/null || true
	for ((i = 0; i < 1000; i++)); do
		last_logged "$label" "$id" && break
		sleep 0.01
	done
	t1=${EPOCHREALTIME/./}
	if ((i == 1000)); then
		log "$label: the last line never reached the log"
		record logs "$label" x
	else
		record logs "$label" $((t1 - t0)) "$warm"
	fi
	ecmd "$label" rm -f "$id" >/dev/null || true
}

# logs_table prints the median time and rate of each engine and the ratios.
logs_table() {
	local label med f
	local -A RATE
	printf '\nlog throughput: %d lines of 100 bytes written as fast as busybox yes | head can, until logs --tail 1 shows the last (%d runs per engine, round robin)\n' \
		"$LOG_LINES" "$ROUNDS"
	printf 'the writer alone, into cat on the host: %s lines/s\n' "$(writer_floor)"
	printf '%-7s %5s %6s %10s %12s %9s %10s %10s\n' engine runs failed 'median s' 'lines/s' 'MB/s' 'vs podman' 'vs docker'
	for label in "${LABELS[@]}"; do
		[[ ! -s $SCRATCH/logs.times.$label ]] ||
			RATE[$label]=$(stats "$SCRATCH/logs.times.$label" | awk -v n="$LOG_LINES" '{ printf "%.0f", n / ($1 / 1000) }')
	done
	for label in "${LABELS[@]}"; do
		f=$(fails_of logs "$label")
		if [[ -z ${RATE[$label]:-} ]]; then
			printf '%-7s %5d %6s %10s\n' "$label" 0 "${f:-0}" 'all failed'
			continue
		fi
		med=$(stats "$SCRATCH/logs.times.$label" | awk '{ printf "%.3f", $1 / 1000 }')
		printf '%-7s %5d %6s %10s %12s %9s %10s %10s\n' "$label" "$(wc -l <"$SCRATCH/logs.times.$label")" \
			"${f:-0}" "$med" "${RATE[$label]}" "$(awk -v r="${RATE[$label]}" 'BEGIN { printf "%.1f", r * 100 / 1e6 }')" \
			"$(ratio "${RATE[$label]}" "${RATE[podman]:-}")" "$(ratio "${RATE[$label]}" "${RATE[docker]:-}")"
	done
	printf '(ratios of rates: above 1 is faster)\n'
}

# writer_floor prints the lines/s of the writer into cat, no engine.
writer_floor() {
	local t0 t1
	t0=${EPOCHREALTIME/./}
	busybox sh -c "$(writer)" | cat >/dev/null
	t1=${EPOCHREALTIME/./}
	awk -v n="$LOG_LINES" -v us=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (us / 1e6) }'
}

logs_inner() {
	sitting_engines "$1"
	local i label
	log "log throughput: 1 warm-up + $ROUNDS timed runs of $LOG_LINES lines per engine, round robin"
	for ((i = 0; i <= ROUNDS; i++)); do
		round_order
		for label in "${ORDER[@]}"; do
			if ((i == 0)); then log_run "$label" warm; else log_run "$label"; fi
		done
	done
	logs_table
	show_failures
}

logs_main() {
	check_engines
	export LOG_LINES=${LOG_LINES:-3000000} ROUNDS=${ROUNDS:-3} GAP=${GAP:-0.1} SEED=${SEED:-$$}
	sitting "${BASH_SOURCE[0]}"
}

if [[ ${1:-} == __inner ]]; then
	logs_inner "$2"
else
	logs_main "$@"
fi
