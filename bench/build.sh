#!/usr/bin/env bash
# build.sh — Dockerfile builds: a multi-stage busybox project (three
# independent stages, each with RUN steps and copies, and a final stage
# copying from all three) built by corral's daemon beside `podman build`
# and Debian's dockerd (classic builder), in one sitting, each with a
# private store on the sitting's tmpfs and the same busybox image loaded
# from one tarball (bench/engine.sh's plumbing). Per round, in a fresh
# order: a cold build (`build --no-cache`: every step runs) and then a
# no-change rebuild (every step from the cache). Medians, ratios, and
# issue 8's targets: cold at most podman's, rebuild at most 0.5x podman's.
#
# Environment:
#   ROUNDS      timed rounds per engine (default 5), after one warm-up
#   FILES       files in the project's context (default 300)
#   GAP, SEED, CORRAL, CORRAL_CLI, DOCKER   as for bench/engine.sh
set -euo pipefail

# shellcheck source=bench/engine.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/engine.sh"

# make_project writes the build context into $1: a Dockerfile and FILES
# small files under src/ and assets/.
make_project() {
	local dir=$1 i
	mkdir -p "$dir/src" "$dir/assets"
	for ((i = 0; i < FILES; i++)); do
		printf 'file %d %0200d\n' "$i" "$i" >"$dir/assets/a$i.txt"
	done
	for ((i = 0; i < 20; i++)); do
		# shellcheck disable=SC2016 # the build's shell expands it
		printf 'echo part %d; i=0; while [ $i -lt 200 ]; do i=$((i+1)); done\n' "$i" >"$dir/src/part$i.sh"
	done
	cat >"$dir/Dockerfile" <<'EOF'
FROM busybox AS deps
WORKDIR /out
RUN for i in $(seq 1 200); do echo "dep $i" > dep$i; done
RUN mkdir lib && cp dep1* lib/ && ls lib | wc -l > count

FROM busybox AS assets
COPY assets/ /assets/
RUN tar -C /assets -cf /assets.tar . && gzip -9 /assets.tar
RUN rm -rf /assets

FROM busybox AS tool
ARG VERSION=1
COPY src/ /src/
RUN for f in /src/*.sh; do sh "$f"; done > /tool.out
RUN echo "version $VERSION" >> /tool.out

FROM busybox
ENV APP=/app
WORKDIR /app
COPY --from=deps /out /app/deps
COPY --from=assets /assets.tar.gz /app/
COPY --from=tool /tool.out /app/
LABEL bench=build
USER 1000
CMD ["cat", "/app/tool.out"]
EOF
}

# build_args prints, one a line, the build command's arguments for
# engine $1 after `build`: podman's RUN steps without a network (as
# corral's and docker's default) and from local images only.
build_args() {
	case $1 in
	podman) printf '%s\n' --pull=never --network none --format docker ;;
	*) ;;
	esac
}

# build_run builds the project once on engine $1 (extra flags $3...) and
# records the time under scenario $2 unless WARM is set.
build_run() {
	local label=$1 scen=$2
	shift 2
	local -a args
	mapfile -t args < <(build_args "$label")
	engine_cmd "$label"
	quiet
	if on_engine "$label" timed "$label" "${CMD[@]}" build -q "${args[@]}" "$@" -t bench-build:latest \
		"$SCRATCH/project"; then
		record "$scen" "$label" "$US" "$WARM"
	else
		record "$scen" "$label" x
	fi
}

# check_result checks that engine $1's image runs and prints what the
# project's last stage copied.
check_result() {
	local label=$1 out
	out=$(ecmd "$label" run --rm --network none bench-build:latest) || out="(run failed)"
	[[ $out == *"part 19"*"version 1" ]] ||
		log "WARNING: $label: the built image prints ${out:0:80}..., not the tool's output"
}

# build_table prints the medians of both scenarios and the targets.
build_table() {
	local scen label med p90 f
	local -A MED
	for scen in cold rebuild; do
		printf '\n%s build of the multi-stage project (%d stages, %d context files; %d timed runs per engine, round robin)\n' \
			"$scen" 4 "$FILES" "$ROUNDS"
		printf '%-7s %5s %6s %10s %9s %10s %10s\n' engine runs failed 'median ms' 'p90 ms' 'vs podman' 'vs docker'
		MED=()
		for label in "${LABELS[@]}"; do
			[[ ! -s $SCRATCH/$scen.times.$label ]] ||
				MED[$label]=$(stats "$SCRATCH/$scen.times.$label" | cut -d' ' -f1)
		done
		for label in "${LABELS[@]}"; do
			f=$(fails_of "$scen" "$label")
			if [[ -z ${MED[$label]:-} ]]; then
				printf '%-7s %5d %6s %10s\n' "$label" 0 "${f:-0}" 'all failed'
				continue
			fi
			read -r med p90 < <(stats "$SCRATCH/$scen.times.$label")
			printf '%-7s %5d %6s %10s %9s %10s %10s\n' "$label" "$(wc -l <"$SCRATCH/$scen.times.$label")" \
				"${f:-0}" "$med" "$p90" "$(ratio "$med" "${MED[podman]:-}")" "$(ratio "$med" "${MED[docker]:-}")"
		done
		case $scen in
		cold) target "corral cold build (median)" "${MED[corral]:-}" 1 podman "${MED[podman]:-}" ;;
		rebuild) target "corral no-change rebuild (median)" "${MED[corral]:-}" 0.5 podman "${MED[podman]:-}" ;;
		esac
	done
}

build_inner() {
	sitting_engines "$1"
	export DOCKER_BUILDKIT=0 # the classic builder: no buildx here
	make_project "$SCRATCH/project"
	local i label
	log "builds: 1 warm-up + $ROUNDS timed rounds per engine (cold, then a no-change rebuild), round robin"
	for ((i = 0; i <= ROUNDS; i++)); do
		WARM=
		((i > 0)) || WARM=yes
		round_order
		for label in "${ORDER[@]}"; do
			build_run "$label" cold --no-cache
			build_run "$label" rebuild
		done
	done
	for label in "${LABELS[@]}"; do check_result "$label"; done
	build_table
	show_failures
}

build_main() {
	check_engines
	export ROUNDS=${ROUNDS:-5} FILES=${FILES:-300} GAP=${GAP:-0.1} SEED=${SEED:-$$}
	sitting "${BASH_SOURCE[0]}"
}

if [[ ${1:-} == __inner ]]; then
	build_inner "$2"
else
	build_main "$@"
fi
