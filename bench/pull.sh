#!/usr/bin/env bash
# pull.sh — time the pull of a realistic multi-layer image (a Debian bookworm
# minbase with python3, split into 5 gzip layers, ~150 MB unpacked) from a
# local registry
# with corral, podman, and skopeo + umoci in one sitting, round robin, and
# report median/p90 wall time and the ratios against podman; then the disk
# that two images sharing 4 of their 5 layers take in corral's store.  See
# bench/README.md.
#
# Environment:
#   N         timed rounds (default 5)
#   WARMUP    untimed rounds first (default 1)
#   GAP       seconds of quiet before each tool's turn (default 1)
#   SEED      seed of the per-round random order (default: the script's pid)
#   CORRAL    the corral binary (default /usr/local/bin/corral)
#   DISK      a directory on disk for the tools' stores (default: the
#             sitting's tmpfs); with it, the page cache is dropped before
#             each turn
#   CACHE     where the minbase rootfs and the image are kept between
#             sittings (default /var/cache/corral-bench/minbase)
#   MIRROR    Debian mirror for debootstrap (default: the one apt uses)
#   INCLUDE   packages debootstrap adds to minbase (default python3; "" for
#             none)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

readonly SUITE=bookworm
readonly REGISTRY=127.0.0.1:5000
readonly REPO_NAME=bench/minbase
# The layers: what each holds, bottom first; "rest" is everything else.
readonly LAYER_PATHS=("rest" "./usr/lib" "./usr/share" "./usr/bin ./usr/sbin" "./var")
readonly TOOLS="corral podman skopeo-umoci"

# ---------------------------------------------------------------------------
# The image, built once and cached.

# apt_mirror prints the Debian mirror apt uses here (not the security one).
apt_mirror() {
	local url
	url=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
		awk '$1 == "URIs:" { print $2 } $1 == "deb" { print ($2 ~ /^\[/ ? $3 : $2) }' |
		grep -E '/debian/?$' | head -n1) || true
	printf '%s\n' "${url:-http://deb.debian.org/debian}"
}

# minbase_tar makes $CACHE/rootfs.tar once (again when INCLUDE changes):
# debootstrap --variant=minbase from apt's mirror, inside a private mount
# namespace (debootstrap mounts /proc and /sys in its target), apt's
# downloads and lists removed as Debian's own images do.
minbase_tar() {
	local out=$CACHE/rootfs.tar tmp mirror
	local -a include=()
	[[ -z $INCLUDE ]] || include=("--include=${INCLUDE// /,}")
	if [[ -s $out && $(cat "$CACHE/rootfs.include" 2>/dev/null) == "$INCLUDE" ]]; then
		return 0
	fi
	command -v debootstrap >/dev/null || die "need debootstrap (apt-get install debootstrap)"
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/.debootstrap.XXXXXX")
	mirror=${MIRROR:-$(apt_mirror)}
	log "debootstrap --variant=minbase ${include[*]} $SUITE from $mirror (once; cached in $CACHE)"
	if ! unshare --mount --propagation private -- \
		debootstrap --variant=minbase "${include[@]}" "$SUITE" "$tmp/rootfs" "$mirror" >"$tmp/log" 2>&1; then
		tail -n 20 "$tmp/log" >&2
		rm -rf "$tmp"
		die "debootstrap failed"
	fi
	rm -rf "$tmp"/rootfs/var/cache/apt/* "$tmp"/rootfs/var/lib/apt/lists/*
	tar -C "$tmp/rootfs" --numeric-owner --exclude './dev/*' -cf "$tmp/rootfs.tar" .
	mv "$tmp/rootfs.tar" "$out"
	printf '%s\n' "$INCLUDE" >"$CACHE/rootfs.include"
	rm -rf "$tmp"
}

# layer_tar writes the uncompressed tar of layer $2 (an entry of
# LAYER_PATHS) of rootfs $1 to stdout. "rest" holds every directory entry
# the others are under, so they get their modes and owners from it.
layer_tar() {
	local root=$1 paths=$2 p q
	local -a args=() sub
	if [[ $paths == rest ]]; then
		for p in "${LAYER_PATHS[@]:1}"; do
			read -r -a sub <<<"$p"
			for q in "${sub[@]}"; do args+=(--exclude "$q/*"); done
		done
		args+=(.)
	else
		read -r -a args <<<"$paths"
	fi
	tar -C "$root" --numeric-owner --sort=name -cf - "${args[@]}"
}

# add_blob moves file $1 into OCI layout $2 under its digest and prints
# "sha256:HEX SIZE".
add_blob() {
	local file=$1 layout=$2 hex size
	hex=$(sha256sum "$file" | cut -d' ' -f1)
	size=$(stat -c %s "$file")
	mv "$file" "$layout/blobs/sha256/$hex"
	printf 'sha256:%s %s\n' "$hex" "$size"
}

# add_layer compresses layer tar $1 into layout $2 and prints "DIFFID
# DIGEST SIZE".
add_layer() {
	local tarfile=$1 layout=$2 diffid
	diffid=sha256:$(sha256sum "$tarfile" | cut -d' ' -f1)
	gzip -n -6 "$tarfile"
	printf '%s %s\n' "$diffid" "$(add_blob "$tarfile.gz" "$layout")"
}

# add_image writes config and manifest of the image of layers $3... (lines
# "DIFFID DIGEST SIZE") into layout $1 and prints the manifest's
# descriptor as JSON, tagged $2.
add_image() {
	local layout=$1 tag=$2 cfg man
	shift 2
	cfg=$(printf '%s\n' "$@" | jq -R -s -c '{architecture: "amd64", os: "linux",
		created: "2024-01-01T00:00:00Z",
		config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["bash"]},
		rootfs: {type: "layers", diff_ids: [split("\n")[] | select(. != "") | split(" ")[0]]}}')
	printf '%s' "$cfg" >"$layout/cfg.tmp"
	read -r cfg < <(add_blob "$layout/cfg.tmp" "$layout")
	man=$(printf '%s\n' "$@" | jq -R -s -c --arg cfg "$cfg" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json",
			digest: ($cfg | split(" ")[0]), size: ($cfg | split(" ")[1] | tonumber)},
		layers: [split("\n")[] | select(. != "") | split(" ") |
			{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: .[1], size: (.[2] | tonumber)}]}')
	printf '%s' "$man" >"$layout/man.tmp"
	read -r man < <(add_blob "$layout/man.tmp" "$layout")
	jq -n -c --arg d "${man% *}" --argjson s "${man#* }" --arg tag "$tag" \
		'{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
		  annotations: {"org.opencontainers.image.ref.name": $tag}}'
}

# make_layout builds $CACHE/layout once from the rootfs: image v1 of the 5
# layers, and v2 that shares the first 4 and has its own last layer (/var
# plus one file). It also writes $CACHE/layout.sizes: the unpacked size of
# v1 and the sizes of v2's own layer, packed and unpacked (bytes).
make_layout() {
	local layout=$CACHE/layout tmp i
	local -a layers=()
	[[ ! -s $layout/index.json || $layout/index.json -ot $CACHE/rootfs.tar ]] || return 0
	log "building the OCI image: ${#LAYER_PATHS[@]} gzip layers (once; cached in $layout)"
	tmp=$(mktemp -d "$CACHE/.layout.XXXXXX")
	mkdir -p "$tmp/rootfs" "$tmp/layout/blobs/sha256"
	tar -C "$tmp/rootfs" -xf "$CACHE/rootfs.tar"
	for i in "${!LAYER_PATHS[@]}"; do
		layer_tar "$tmp/rootfs" "${LAYER_PATHS[i]}" >"$tmp/layer$i.tar"
		layers+=("$(add_layer "$tmp/layer$i.tar" "$tmp/layout")")
	done
	printf 'second image of the pull bench\n' >"$tmp/rootfs/var/lib/bench-second"
	layer_tar "$tmp/rootfs" ./var >"$tmp/own.tar"
	local own_unpacked
	own_unpacked=$(stat -c %s "$tmp/own.tar")
	local own
	own=$(add_layer "$tmp/own.tar" "$tmp/layout")
	{
		add_image "$tmp/layout" v1 "${layers[@]}"
		add_image "$tmp/layout" v2 "${layers[@]:0:4}" "$own"
	} | jq -s -c '{schemaVersion: 2, manifests: .}' >"$tmp/layout/index.json"
	printf '{"imageLayoutVersion": "1.0.0"}' >"$tmp/layout/oci-layout"
	printf '%s %s %s\n' "$(du -sb "$tmp/rootfs" | cut -f1)" "${own##* }" "$own_unpacked" >"$tmp/layout.sizes"
	rm -rf "$layout"
	mv "$tmp/layout" "$layout"
	mv "$tmp/layout.sizes" "$CACHE/layout.sizes"
	rm -rf "$tmp"
}

# ---------------------------------------------------------------------------
# Inside the namespaces.

# start_registry runs Debian's docker-registry on $REGISTRY, its storage
# on the sitting's tmpfs, and pushes both images into it (untimed).
start_registry() {
	local tag
	mkdir -p "$SCRATCH/registry"
	cat >"$SCRATCH/registry/config.yml" <<-EOF
		version: 0.1
		log:
		  level: error
		  accesslog:
		    disabled: true
		storage:
		  filesystem:
		    rootdirectory: $SCRATCH/registry/storage
		http:
		  addr: $REGISTRY
	EOF
	docker-registry serve "$SCRATCH/registry/config.yml" >"$SCRATCH/registry/log" 2>&1 &
	for _ in $(seq 100); do
		curl -sf "http://$REGISTRY/v2/" >/dev/null && break
		sleep 0.1
	done
	curl -sf "http://$REGISTRY/v2/" >/dev/null || die "docker-registry did not start: $(tail -n5 "$SCRATCH/registry/log")"
	for tag in v1 v2; do
		skopeo --insecure-policy copy -q --dest-tls-verify=false \
			"oci:$CACHE/layout:$tag" "docker://$REGISTRY/$REPO_NAME:$tag" ||
			die "cannot push $tag to the registry"
	done
}

# fresh_containers_state gives skopeo and podman an empty
# /var/lib/containers (their blob info cache as root), private to the
# sitting.
fresh_containers_state() {
	! mountpoint -q /var/lib/containers || umount /var/lib/containers
	mkdir -p /var/lib/containers
	mount -t tmpfs -o mode=0700 corral-bench /var/lib/containers
}

# unmount_under unmounts every mount at or below directory $1, deepest
# first (podman's overlay driver bind-mounts its store on itself).
unmount_under() {
	local dir=$1 m
	while read -r m; do
		umount "$m" || umount -l "$m"
	done < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
}

# clear_turn removes a tool's store $1 and the state any tool keeps
# outside it, and drops the page cache when the stores are on disk.
clear_turn() {
	local run
	run=$(podman_runroot "$1")
	stop_corral_daemon "$1"
	unmount_under "$1"
	unmount_under "$run"
	rm -rf "$1" "$run"
	fresh_containers_state
	if [[ -n ${DISK:-} ]]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches
	fi
}

# stop_corral_daemon stops the daemon that a corral command with
# --data-root $1 started for that store, and waits for it to go.
stop_corral_daemon() {
	local pid
	[[ -f $1/corral.pid ]] || return 0
	pid=$(cat "$1/corral.pid")
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null || true
}

# pull_corral pulls into store $1; the timing includes starting the
# store's daemon (corral starts it on first use, about 30 ms).
pull_corral() { "$CORRAL" --data-root "$1" pull -q "$REGISTRY/$REPO_NAME:${2:-v1}"; }

# podman_runroot prints podman's run root for store $1: on the sitting's
# tmpfs, as podman refuses a run root longer than 50 characters (a DISK
# path can make one).
podman_runroot() { printf '%s/run.%s\n' "$SCRATCH" "${1##*/}"; }

pull_podman() {
	podman --root "$1/root" --runroot "$(podman_runroot "$1")" --tmpdir "$1/tmp" --storage-driver overlay \
		--events-backend none --cgroup-manager cgroupfs \
		pull -q --tls-verify=false "$REGISTRY/$REPO_NAME:${2:-v1}"
}

pull_skopeo_umoci() {
	skopeo --insecure-policy copy -q --src-tls-verify=false \
		"docker://$REGISTRY/$REPO_NAME:${2:-v1}" "oci:$1/oci:v1" &&
		umoci unpack --image "$1/oci:v1" "$1/bundle"
}

# check_turn says, untimed, whether tool $1 really pulled the image into
# store $2: the image ID (config digest) it reports, or the unpacked tree.
check_turn() {
	local label=$1 dir=$2 want got=""
	want=$(jq -r '.config.digest' "$CACHE/layout/blobs/sha256/$(manifest_hex v1)")
	case $label in
	corral) got=$("$CORRAL" --data-root "$dir" image inspect --format '{{.Id}}' "$REGISTRY/$REPO_NAME:v1" 2>&1) ;;
	podman) got=sha256:$(podman --root "$dir/root" --runroot "$(podman_runroot "$dir")" --storage-driver overlay \
		image inspect --format '{{.Id}}' "$REGISTRY/$REPO_NAME:v1" 2>&1) ;;
	skopeo-umoci) [[ ! -x $dir/bundle/rootfs/usr/bin/bash ]] || got=$want ;;
	esac
	if [[ $got == "$want" ]]; then
		log "checked: $label pulled image $want ($(du -sm "$dir" | cut -f1) MB on disk)"
	else
		log "WARNING: $label did not pull image $want: $got"
	fi
}

manifest_hex() {
	jq -r --arg t "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
		"$CACHE/layout/index.json" | cut -d: -f2
}

# bench_round pulls once per tool in a fresh order; $1 is the round
# number, rounds up to 0 are warm-up (the first is also checked).
bench_round() {
	local i=$1 label dir warm=
	((i > 0)) || warm=yes
	round_order
	for label in "${ORDER[@]}"; do
		dir=$STORES/$label.$i
		clear_turn "$dir"
		mkdir -p "$dir"
		quiet
		if timed "$label" "pull_${label//-/_}" "$dir"; then
			record pull "$label" "$US" "$warm"
			((i != 1 - WARMUP)) || check_turn "$label" "$dir"
		else
			record pull "$label" x
		fi
		clear_turn "$dir"
	done
}

# pull_table prints the timing table, in seconds, with the ratio to podman.
pull_table() {
	local label med p90 fails podman_med=""
	[[ ! -s $SCRATCH/pull.times.podman ]] || podman_med=$(stats "$SCRATCH/pull.times.podman" | cut -d' ' -f1)
	printf '\npull of %s:v1 (%s) from docker-registry on loopback\n' "$REPO_NAME" "$(image_summary)"
	printf '%-13s %5s %6s %9s %8s %9s\n' tool runs failed 'median s' 'p90 s' 'vs podman'
	for label in "${LABELS[@]}"; do
		fails=$(grep -c x "$SCRATCH/pull.fails.$label" 2>/dev/null || true)
		if [[ ! -s $SCRATCH/pull.times.$label ]]; then
			printf '%-13s %5d %6s %9s\n' "$label" 0 "${fails:-0}" 'all failed'
			continue
		fi
		read -r med p90 < <(stats "$SCRATCH/pull.times.$label")
		printf '%-13s %5d %6s %9.2f %8.2f %9s\n' "$label" "$(wc -l <"$SCRATCH/pull.times.$label")" \
			"${fails:-0}" "$(ms_to_s "$med")" "$(ms_to_s "$p90")" "$(ratio "$med" "$podman_med")"
		[[ $label != corral || -z $podman_med ]] ||
			CORRAL_RATIO=$(awk -v a="$med" -v b="$podman_med" 'BEGIN { print a / b }')
	done
	if [[ -n ${CORRAL_RATIO:-} ]]; then
		awk -v r="$CORRAL_RATIO" 'BEGIN { printf "target corral <= 0.500x podman: %s (%.3fx)\n", (r <= 0.5 ? "met" : "MISSED"), r }'
	fi
}

ms_to_s() { awk -v m="$1" 'BEGIN { print m / 1000 }'; }

# image_summary describes the image: layers, packed and unpacked size.
image_summary() {
	local packed unpacked
	packed=$(jq '[.layers[].size] | add' "$CACHE/layout/blobs/sha256/$(manifest_hex v1)")
	read -r unpacked _ <"$CACHE/layout.sizes"
	printf '%d gzip layers, %d MB compressed, %d MB unpacked' \
		"${#LAYER_PATHS[@]}" $((packed / 1000000)) $((unpacked / 1000000))
}

# disk_use pulls v1 then v2 (which shares 4 of v1's 5 layers) into one
# corral store, and v2 alone into another, and shows that the shared
# layers are stored once: the store grows by about v2's own layer, not by
# a second copy of the image.
disk_use() {
	local both=$STORES/disk-use alone=$STORES/disk-use-v2 one two v2 own_packed own_unpacked grew allowed
	clear_turn "$both"
	clear_turn "$alone"
	pull_corral "$both" v1 >/dev/null || die "disk use: corral pull v1 failed"
	one=$(du -sk "$both" | cut -f1)
	pull_corral "$both" v2 >/dev/null || die "disk use: corral pull v2 failed"
	two=$(du -sk "$both" | cut -f1)
	pull_corral "$alone" v2 >/dev/null || die "disk use: corral pull v2 into a fresh store failed"
	v2=$(du -sk "$alone" | cut -f1)
	read -r _ own_packed own_unpacked <"$CACHE/layout.sizes"
	own_packed=$((own_packed / 1024)) own_unpacked=$((own_unpacked / 1024))
	grew=$((two - one))
	# du rounds every small file up to a block: twice the layer's bytes.
	allowed=$((2 * (own_packed + own_unpacked) + 1024))
	printf '\ndisk use of two images sharing 4 of 5 layers (corral data root, du -sk)\n'
	printf '%-30s %8d KiB\n' "v1" "$one" "v1 and v2" "$two" "v2 alone, in a fresh store" "$v2"
	printf '%-30s %8d KiB (v2'"'"'s own layer: %d KiB packed + %d KiB as a tar)\n' \
		"v2 added to v1" "$grew" "$own_packed" "$own_unpacked"
	if ((grew <= allowed)); then
		printf 'shared layers stored once: yes\n'
	else
		printf 'shared layers stored once: NO (v2 added more than %d KiB)\n' "$allowed"
	fi
	printf '\ncorral system df of the store with both:\n'
	"$CORRAL" --data-root "$both" system df
	clear_turn "$both"
	clear_turn "$alone"
}

inner() {
	SCRATCH=$1
	declare -ga AT_EXIT=() WRAP=() ORDER=()
	trap inner_exit EXIT
	trap 'exit 130' INT TERM HUP PIPE
	mount -t tmpfs -o mode=0700 corral-bench "$SCRATCH"
	: >"$SCRATCH/stdin"
	RANDOM=$SEED
	read -r -a LABELS <<<"$TOOLS"
	STORES=${DISK:-$SCRATCH/stores}
	[[ -z ${DISK:-} ]] || STORES=$DISK/corral-bench-pull.$BENCH_TAG
	mkdir -p "$STORES"
	ip link set lo up
	start_registry
	log "${#LABELS[@]} tools, $WARMUP warm-up + $N timed rounds, round robin; stores in $STORES"
	local i
	for ((i = 1 - WARMUP; i <= N; i++)); do bench_round "$i"; done
	pull_table
	disk_use
	show_failures
	[[ -z ${DISK:-} ]] || rm -rf "$STORES"
}

versions() {
	log "corral: $CORRAL ($("$CORRAL" version 2>/dev/null | head -n1))"
	log "podman: $(podman --version)"
	log "skopeo: $(skopeo --version)"
	log "umoci: $(umoci --version)"
	log "docker-registry: $(docker-registry --version)"
	log "$(nproc) cores, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

main() {
	[[ $(id -u) == 0 ]] || die "must run as root"
	local t scratch rc=0
	for t in skopeo podman umoci docker-registry jq curl; do
		command -v "$t" >/dev/null || die "need $t (apt-get install $t)"
	done
	export CORRAL=${CORRAL:-/usr/local/bin/corral}
	[[ -x $CORRAL ]] || die "corral not found at $CORRAL (set CORRAL)"
	export N=${N:-5} WARMUP=${WARMUP:-1} GAP=${GAP:-1} SEED=${SEED:-$$} BENCH_TAG=$$
	export CACHE=${CACHE:-/var/cache/corral-bench/minbase} DISK=${DISK:-} INCLUDE=${INCLUDE-python3}
	minbase_tar
	make_layout
	versions
	log "tools in a fresh random order each round (SEED=$SEED), ${GAP}s quiet before each turn (GAP)"
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/corral-bench.XXXXXX")
	unshare --mount --net --uts --ipc --pid --fork --mount-proc --propagation private -- \
		"${BASH_SOURCE[0]}" __inner "$scratch" || rc=$?
	rmdir "$scratch"
	log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	return "$rc"
}

if [[ ${1:-} == __inner ]]; then
	inner "$2"
else
	main "$@"
fi
