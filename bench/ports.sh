#!/usr/bin/env bash
# ports.sh — published ports and the default bridge: corral's daemon beside
# podman (CNI portmap) and Debian's dockerd (its userland proxy, as
# packaged: docker-proxy, since the sitting gives dockerd no iptables), in
# one sitting, each with a private store on the sitting's tmpfs (the
# plumbing of bench/engine.sh):
#   1. wrk from a client network namespace joined to the sitting by a veth
#      pair, against busybox httpd in a container: new connections per
#      second on a small file (every request a new connection) and bytes
#      per second on a large one, reached directly at the container's
#      address and through each engine's `-p`; ratios to direct;
#   2. `run --rm busybox true` on each engine's default network (a veth on
#      a bridge, an address, the NAT rules), round robin; ratios to podman.
# Issue 7's targets: corral -p >= 0.95x direct, run --rm <= 0.25x podman.
# See bench/README.md.
#
# Environment:
#   DURATION    seconds of each wrk run (default 3)
#   ROUNDS      timed wrk runs per target and file (default 8)
#   CONNS       wrk connections for the small file (default 8: below
#               busybox httpd's listen backlog of 9, see overflows)
#   LARGE_MB    size of the large file in MiB (default 64)
#   N, WARMUP   timed and untimed `run --rm` per engine (default 20, 2)
#   HOLD        seconds to keep the sitting up before wrk, for profiling
#   GAP, SEED, CORRAL, CORRAL_CLI, DOCKER   as for bench/engine.sh
set -euo pipefail

# shellcheck source=bench/engine.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/engine.sh"

readonly CLIENT_NS=bench-client HOST_ADDR=10.254.0.1 CLIENT_ADDR=10.254.0.2
readonly DIRECT_GW=10.252.0.1 DIRECT_CTR=10.252.0.2
readonly TARGETS="direct corral podman docker"
# The host port each engine publishes the web server on.
declare -rA HOST_PORT=([corral]=18080 [podman]=18081 [docker]=18082)

# client_netns makes the client's network namespace, joined to the
# sitting's by a veth pair, its default route via the sitting.
client_netns() {
	ip netns add "$CLIENT_NS"
	ip link add bench-cl type veth peer name eth0 netns "$CLIENT_NS"
	ip addr add "$HOST_ADDR/24" dev bench-cl
	ip link set bench-cl up
	ip -n "$CLIENT_NS" addr add "$CLIENT_ADDR/24" dev eth0
	ip -n "$CLIENT_NS" link set lo up
	ip -n "$CLIENT_NS" link set eth0 up
	ip -n "$CLIENT_NS" route add default via "$HOST_ADDR"
}

# private_net hides, as private_state does, what podman's CNI plugins
# keep on the host: their address leases and named network namespaces.
private_net() {
	local d
	for d in /var/lib/cni /run/netns; do
		mkdir -p "$d"
		mount -t tmpfs -o mode=0755 corral-bench "$d"
	done
}

# server is the web server's command: a small and a large file, then httpd
# in the foreground (one process per connection, no keep-alive).
server() {
	printf 'mkdir -p /www && head -c 100 /dev/zero >/www/small && head -c %d /dev/zero >/www/large && exec httpd -f -p 80 -h /www' \
		$((LARGE_MB << 20))
}

# start_servers starts the web server on every engine's default network
# with port 80 published, and sets ADDR (target -> host:port) for each
# target; direct is corral's own container (the same server process as
# corral's -p) reached at an address of its own on the sitting's direct
# bridge (see direct_link).
start_servers() {
	local label id
	declare -gA ADDR=() SERVER_PID=()
	for label in "${LABELS[@]}"; do
		engine_cmd "$label"
		id=$(on_engine "$label" "${CMD[@]}" run -d -p "${HOST_PORT[$label]}:80" \
			--cgroup-parent "$(cgroup_parent "$label")" busybox sh -c "$(server)" 2>>"$SCRATCH/out.$label") ||
			die "$label: cannot start the web server: $(tail -n 3 "$SCRATCH/out.$label")"
		ADDR[$label]=$HOST_ADDR:${HOST_PORT[$label]}
		SERVER_PID[$label]=$(ecmd "$label" inspect -f '{{.State.Pid}}' "$id")
		[[ $label != corral ]] || direct_link "${SERVER_PID[corral]}"
	done
	ADDR[direct]=$DIRECT_CTR:80
	for label in $TARGETS; do wait_http "$label"; done
}

# direct_link gives the container whose process is $1 a second interface,
# eth1 with DIRECT_CTR, on a bridge of the sitting's own (bench-direct,
# DIRECT_GW), and routes what it sends from DIRECT_CTR back through it
# (a source rule: its replies on corral0, to the -p connections, keep
# their route). The client reaches DIRECT_CTR as it reaches a published
# port, routed by the sitting onto a bridge and a veth, without the
# DNAT; corral's forward chain does not filter a bridge not its own.
direct_link() {
	local pid=$1
	[[ $pid =~ ^[0-9]+$ ]] || die "corral: no pid for the web server's container ($pid)"
	ip link add bench-direct type bridge
	ip addr add "$DIRECT_GW/24" dev bench-direct
	ip link set bench-direct up
	ip link add bench-dv type veth peer name eth1 netns "$pid"
	ip link set bench-dv master bench-direct up
	nsenter -t "$pid" -n ip addr add "$DIRECT_CTR/24" dev eth1
	nsenter -t "$pid" -n ip link set eth1 up
	nsenter -t "$pid" -n ip rule add from "$DIRECT_CTR" lookup 100
	nsenter -t "$pid" -n ip route add default via "$DIRECT_GW" dev eth1 table 100
}

# wait_http waits up to 10 s for target $1 to serve the small file.
wait_http() {
	local i
	for ((i = 0; i < 100; i++)); do
		in_client wget -q -O /dev/null "http://${ADDR[$1]}/small" 2>/dev/null && return 0
		sleep 0.1
	done
	die "$1: http://${ADDR[$1]}/small does not answer from the client namespace"
}

in_client() { ip netns exec "$CLIENT_NS" "$@"; }

# The wrk script: a new connection per request, and the summary as one
# line "requests bytes microseconds errors".
wrk_lua() {
	cat <<'EOF'
wrk.headers["Connection"] = "close"
done = function(s)
  local e = s.errors
  io.write(string.format("RESULT %d %d %d %d\n", s.requests, s.bytes, s.duration,
    e.connect + e.read + e.write + e.status + e.timeout))
end
EOF
}

# wrk_run runs wrk on file $2 of target $1 from the client namespace and
# records requests/s (small) or bytes/s (large) unless $3 (warm-up).
wrk_run() {
	local target=$1 file=$2 warm=${3:-} conns=$CONNS out req bytes us errs
	[[ $file == small ]] || conns=2
	quiet
	out=$(in_client wrk -t 2 -c "$conns" -d "${DURATION}s" -s "$SCRATCH/wrk.lua" \
		"http://${ADDR[$target]}/$file" 2>&1) || true
	printf '%s\n' "$out" >>"$SCRATCH/out.wrk-$target"
	read -r req bytes us errs < <(awk '$1 == "RESULT" { print $2, $3, $4, $5 }' <<<"$out")
	if [[ -z ${req:-} || $req == 0 || $errs != 0 ]]; then
		record "wrk-$file" "$target" x
		return
	fi
	[[ -n $warm ]] || if [[ $file == small ]]; then
		awk -v r="$req" -v us="$us" 'BEGIN { printf "%.0f\n", r / (us / 1e6) }'
	else
		awk -v b="$bytes" -v us="$us" 'BEGIN { printf "%.0f\n", b / (us / 1e6) }'
	fi >>"$SCRATCH/wrk-$file.rates.$target"
}

# wrk_rounds runs the warm-up and ROUNDS rounds of file $1, the targets in
# a fresh order each round.
wrk_rounds() {
	local file=$1 i target
	local -a order
	for ((i = 0; i <= ROUNDS; i++)); do
		read -r -a LABELS <<<"$TARGETS"
		round_order
		read -r -a LABELS <<<"$BENCH_LABELS"
		order=("${ORDER[@]}")
		for target in "${order[@]}"; do
			if ((i == 0)); then wrk_run "$target" "$file" warm; else wrk_run "$target" "$file"; fi
		done
	done
}

# median prints the median of the numbers in file $1.
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# spread prints "min max" of the numbers in file $1 divided by $2, one
# decimal.
spread() {
	sort -n "$1" | awk -v d="$2" 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f %.1f\n", lo / d, hi / d }'
}

# round_ratios prints "min median max" of target $2's rate over direct's in
# the same round, file $1 (the lines of the rates files are rounds), or
# nothing when a round failed for either.
round_ratios() {
	local a=$SCRATCH/wrk-$1.rates.$2 b=$SCRATCH/wrk-$1.rates.direct
	[[ -s $a && -s $b && $(wc -l <"$a") == "$(wc -l <"$b")" ]] || return 0
	paste "$a" "$b" | awk '{ print $1 / $2 }' | sort -n |
		awk '{ v[NR] = $1 } END { printf "%.2f %.2f %.2f\n", v[1], v[int((NR + 1) / 2)], v[NR] }'
}

# wrk_table prints the median, min and max rate per target of file $1, the
# ratios of the medians to direct and the spread of the ratios to direct
# round by round; $2 is the title, $3 the unit's divisor and $4 its name.
wrk_table() {
	local file=$1 title=$2 div=$3 unit=$4 target f lo hi r
	local -A MED=()
	printf '\n%s (%d runs of %d s per target, round robin)\n' "$title" "$ROUNDS" "$DURATION"
	printf '%-7s %-18s %4s %6s %14s %9s %9s %9s %16s\n' target address runs failed "median $unit" min max \
		'vs direct' 'per round min-max'
	for target in $TARGETS; do
		[[ ! -s $SCRATCH/wrk-$file.rates.$target ]] || MED[$target]=$(median "$SCRATCH/wrk-$file.rates.$target")
	done
	for target in $TARGETS; do
		f=$(fails_of "wrk-$file" "$target")
		if [[ -z ${MED[$target]:-} ]]; then
			printf '%-7s %-18s %4d %6s %14s\n' "$target" "${ADDR[$target]}" 0 "${f:-0}" 'all failed'
			continue
		fi
		read -r lo hi < <(spread "$SCRATCH/wrk-$file.rates.$target" "$div")
		r=$(round_ratios "$file" "$target" | awk '{ printf "%.2f-%.2f", $1, $3 }')
		printf '%-7s %-18s %4d %6s %14s %9s %9s %9s %16s\n' "$target" "${ADDR[$target]}" \
			"$(wc -l <"$SCRATCH/wrk-$file.rates.$target")" "${f:-0}" \
			"$(awk -v v="${MED[$target]}" -v d="$div" 'BEGIN { printf "%.1f", v / d }')" "$lo" "$hi" \
			"$(ratio "${MED[$target]}" "${MED[direct]:-}")" "${r:--}"
	done
	floor "corral -p ($title)" "${MED[corral]:-}" 0.95 direct "${MED[direct]:-}"
}

# floor prints whether value $2 of corral meets "at least $3 x $4's value
# $5" for what $1 names.
floor() {
	local what=$1 v=$2 factor=$3 peer=$4 pv=$5
	if [[ -z $v || -z $pv ]]; then
		printf 'target %s >= %sx %s: unknown (a figure is missing)\n' "$what" "$factor" "$peer"
		return
	fi
	awk -v w="$what" -v v="$v" -v f="$factor" -v p="$peer" -v pv="$pv" 'BEGIN {
		r = v / pv
		printf "target %s >= %sx %s: %s (%.3fx)\n", w, f, p, (r >= f ? "met" : "MISSED"), r }'
}

# overflows prints, for each engine's web server, the SYNs its network
# namespace dropped because httpd's accept queue (busybox listens with a
# backlog of 9) was full: each costs its connection a 1 s SYN
# retransmission, so a figure taken with drops measures the scheduler.
overflows() {
	local label n
	printf '\nSYNs dropped, accept queue full (TcpExtListenOverflows of the server'"'"'s namespace; direct shares corral'"'"'s):'
	for label in "${LABELS[@]}"; do
		n=$(awk '$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) k[i] = $i; h = 1; next }
			$1 == "TcpExt:" { for (i = 2; i <= NF; i++) if (k[i] == "ListenOverflows") print $i }' \
			"/proc/${SERVER_PID[$label]}/net/netstat" 2>/dev/null) || true
		printf ' %s %s' "$label" "${n:-?}"
	done
	printf '\n'
}

# hold, with HOLD set, keeps the sitting up with its servers for HOLD
# seconds before timing anything, for a look from outside: nsenter -t PID
# -n -m, PID that of `ports.sh __inner` (pgrep -f), enters the sitting, and
# ip netns exec bench-client there the client.
hold() {
	[[ -n ${HOLD:-} ]] || return 0
	log "holding for ${HOLD}s; targets: $(for t in $TARGETS; do printf '%s=%s ' "$t" "${ADDR[$t]}"; done)"
	sleep "$HOLD"
}

ports_inner() {
	sitting_engines "$1"
	private_net
	client_netns
	wrk_lua >"$SCRATCH/wrk.lua"
	local i
	log "run --rm on the default network: $WARMUP warm-up + $N timed runs per engine, round robin"
	RUN_NET=()
	for ((i = 1 - WARMUP; i <= N; i++)); do run_round "$i"; done
	check_removed
	start_servers
	hold
	log "wrk: ${DURATION}s runs, 1 warm-up + $ROUNDS timed per target and file, from namespace $CLIENT_NS"
	wrk_rounds small
	wrk_rounds large
	overflows >"$SCRATCH/overflows"
	for label in "${LABELS[@]}"; do remove_all "$label"; done
	cat "$SCRATCH/overflows"
	wrk_table small "new connections/s, 100-byte file, $CONNS connections" 1 'conn/s'
	wrk_table large "throughput, $LARGE_MB MiB file, 2 connections" $((1 << 20)) 'MiB/s'
	run_table | sed 's/--network none busybox true/busybox true on the default network/'
	show_failures
}

ports_main() {
	check_engines
	command -v wrk >/dev/null || die "need wrk (apt-get install wrk)"
	export DURATION=${DURATION:-3} ROUNDS=${ROUNDS:-8} CONNS=${CONNS:-8} LARGE_MB=${LARGE_MB:-64} \
		N=${N:-20} WARMUP=${WARMUP:-2} GAP=${GAP:-0.1} SEED=${SEED:-$$}
	export DOCKERD_NET="--bip=10.253.0.1/24 --userland-proxy=true"
	sitting "${BASH_SOURCE[0]}"
}

if [[ ${1:-} == __inner ]]; then
	ports_inner "$2"
else
	ports_main "$@"
fi
