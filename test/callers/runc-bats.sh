#!/usr/bin/env bash
# runc-bats.sh — run runc's own integration tests (tests/integration/*.bats of
# opencontainers/runc v1.1.5, the version Debian 12 ships) with Debian's bats,
# against Debian's runc and against corral in one sitting, and fail only where
# runc passes a test that corral fails.
#
# Usage: test/callers/runc-bats.sh [CORRAL]
#
#   CORRAL  the runtime under test: the corrald binary (a corral-runc link to
#           it is made) or a runc-compatible link to it. Default: $CORRAL,
#           else a corral built from this repository for the run.
#
# Environment:
#   RUNC                    reference runtime (default /usr/sbin/runc)
#   CORRAL_BATS_FILES       .bats files to run, space-separated, e.g.
#                           "exec.bats tty.bats" (default: every file not
#                           excluded whole by runc-bats/skip.txt)
#   CORRAL_BATS_ONLY        "runc" or "corral": run one runtime only
#   CORRAL_BATS_TIMEOUT     seconds allowed to one test (default 60)
#   CORRAL_BATS_DEADLINE    seconds for all the tests (default 2400); the
#                           tests not started by then count as failed
#   CORRAL_BATS_CACHE       where the Debian image is kept between runs
#                           (default $XDG_CACHE_HOME/corral-runc-bats, else
#                           /var/cache/corral-runc-bats)
#   CORRAL_BATS_DEBIAN=0    do not debootstrap the Debian image: the one test
#                           that needs it (hooks.bats) is skipped
#   CORRAL_BATS_OUT         directory for the TAP logs (default: mktemp -d)
#
# runc's test files come from the Go module proxy (the runc module zip holds
# tests/integration) and are copied to a scratch directory, never into this
# repository. The images the tests expect are made here: busybox from
# Debian's busybox-static, Debian from debootstrap --variant=minbase.
# recvtty and seccompagent are built from the same module.
#
# Everything runs inside private mount, network, UTS and IPC namespaces with
# a tmpfs for the tests' bundles and state, and a per-run cgroup. Each test
# is one bats run in a PID namespace of its own (nothing it starts outlives
# it) with a timeout, on runc then on corral, test after test.
# Exit status: 0 = no regression against runc; 1 = regressions; 2 = the run
# could not be set up.
set -euo pipefail

readonly RUNC_MODULE=github.com/opencontainers/runc
readonly RUNC_VERSION=v1.1.5
readonly DEBIAN_SUITE=bookworm
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
REPO=$(cd "$HERE/../.." && pwd)
readonly REPO
readonly SKIPS=$HERE/runc-bats/skip.txt

log() { printf '%s\n' "runc-bats: $*" >&2; }
die() {
	log "$*"
	exit 2
}

# shellcheck source=test/callers/runc-bats/lib.sh
. "$HERE/runc-bats/lib.sh"

# ---------------------------------------------------------------------------
# Outside the namespaces: the kit (runc's tests, helpers, images).

# module_dir downloads runc's module and prints its directory.
module_dir() {
	local tmp dir
	tmp=$(mktemp -d)
	dir=$(cd "$tmp" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$RUNC_MODULE@$RUNC_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	rmdir "$tmp"
	[[ -n $dir && -d $dir ]] || return 1
	printf '%s\n' "$dir"
}

# build_helpers builds runc's helper programs from module dir $1 into the
# layout helpers.bash expects under $2 (contrib/cmd/NAME/NAME).
build_helpers() {
	local src=$1 out=$2
	export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
	mkdir -p "$out/contrib/cmd/recvtty" "$out/contrib/cmd/seccompagent"
	(cd "$src" && CGO_ENABLED=0 go build -o "$out/contrib/cmd/recvtty/recvtty" ./contrib/cmd/recvtty) ||
		die "cannot build recvtty"
	if pkg-config --exists libseccomp 2>/dev/null; then
		(cd "$src" && CGO_ENABLED=1 go build -tags seccomp \
			-o "$out/contrib/cmd/seccompagent/seccompagent" ./contrib/cmd/seccompagent) ||
			die "cannot build seccompagent"
	else
		log "libseccomp-dev is not installed: seccomp-notify.bats is skipped"
		AUTO_SKIPS+=("seccomp-notify.bats | * | seccompagent needs libseccomp-dev to build")
	fi
}

# make_busybox_image writes the busybox image tarball $1: Debian's
# busybox-static with an applet link each, and the users and groups the
# tests name (uid/gid 1000 is left unnamed, as in the image runc's CI uses).
# Like that image it has no /proc or /sys: mask.bats puts symlinks there.
make_busybox_image() {
	local out=$1 dir
	dir=$(mktemp -d)
	bash "$REPO/scripts/busybox-rootfs.sh" "$dir/rootfs" >&2 || die "cannot make the busybox rootfs"
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'daemon:x:1:1:daemon:/usr/sbin:/bin/false' \
		'bin:x:2:2:bin:/bin:/bin/false' 'sys:x:3:3:sys:/dev:/bin/false' \
		'nobody:x:65534:65534:nobody:/home:/bin/false' >"$dir/rootfs/etc/passwd"
	printf '%s\n' 'root:x:0:' 'daemon:x:1:' 'bin:x:2:' 'sys:x:3:' 'adm:x:4:' 'tty:x:5:' \
		'disk:x:6:' 'wheel:x:10:root' 'staff:x:50:' 'users:x:100:' 'nogroup:x:65534:' \
		>"$dir/rootfs/etc/group"
	mkdir -p "$dir/rootfs/home" "$dir/rootfs/var"
	rmdir "$dir/rootfs/proc" "$dir/rootfs/sys"
	tar -C "$dir/rootfs" -cJf "$out" .
	rm -rf "$dir"
}

# apt_mirror prints the Debian mirror apt uses here (not the security one).
apt_mirror() {
	local url
	url=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
		awk '$1 == "URIs:" { print $2 } $1 == "deb" { print ($2 ~ /^\[/ ? $3 : $2) }' |
		grep -E '/debian/?$' | head -n1) || true
	printf '%s\n' "${url:-http://deb.debian.org/debian}"
}

# debian_image prints the cached Debian image, making it first if needed:
# debootstrap --variant=minbase from apt's mirror, inside a private mount
# namespace (debootstrap mounts /proc and /sys in its target).
debian_image() {
	local root out tmp mirror
	root=$(cache_root)
	out=$root/debian-$DEBIAN_SUITE-minbase-$(dpkg --print-architecture).tar.xz
	if [[ ! -s $out ]]; then
		command -v debootstrap >/dev/null || return 1
		mkdir -p "$root"
		tmp=$(mktemp -d "$root/.debootstrap.XXXXXX")
		mirror=$(apt_mirror)
		log "debootstrap --variant=minbase $DEBIAN_SUITE from $mirror (once; cached in $root)"
		if ! unshare --mount --propagation private -- \
			debootstrap --variant=minbase "$DEBIAN_SUITE" "$tmp/rootfs" "$mirror" >"$tmp/log" 2>&1; then
			tail -n 20 "$tmp/log" >&2
			rm -rf "$tmp"
			return 1
		fi
		rm -rf "$tmp"/rootfs/var/cache/apt/* "$tmp"/rootfs/var/lib/apt/lists/* \
			"$tmp"/rootfs/usr/share/{doc,man,info,locale}/*
		tar -C "$tmp/rootfs" --exclude './dev/*' -cf - . | xz -1 -T0 >"$tmp/image.tar.xz"
		mv "$tmp/image.tar.xz" "$out"
		rm -rf "$tmp"
	fi
	printf '%s\n' "$out"
}

cache_root() {
	if [[ -n ${CORRAL_BATS_CACHE:-} ]]; then
		printf '%s\n' "$CORRAL_BATS_CACHE"
	elif [[ -n ${XDG_CACHE_HOME:-} ]]; then
		printf '%s\n' "$XDG_CACHE_HOME/corral-runc-bats"
	else
		printf '%s\n' /var/cache/corral-runc-bats
	fi
}

# make_kit lays out runc's tests in $1 the way they expect to find
# themselves in a runc checkout: tests/integration, go.mod, contrib/cmd.
make_kit() {
	local kit=$1 src arch testdata image
	src=$(module_dir) || die "cannot download $RUNC_MODULE@$RUNC_VERSION"
	mkdir -p "$kit/tests"
	cp -r "$src/tests/integration" "$kit/tests/"
	cp "$src/go.mod" "$kit/go.mod"
	# Module zips keep no file modes: make runc's scripts executable again.
	chmod -R u+w "$kit"
	chmod +x "$kit"/tests/integration/*.sh
	build_helpers "$src" "$kit"
	cp "$src/contrib/cmd/seccompagent/gen-seccomp-example-cfg.sh" "$kit/contrib/cmd/seccompagent/"
	chmod +x "$kit/contrib/cmd/seccompagent/gen-seccomp-example-cfg.sh"
	arch=$(go env GOARCH)
	testdata=$kit/tests/integration/testdata
	make_busybox_image "$testdata/busybox-$arch.tar.xz"
	# get-images.sh downloads any image that is absent: there must be a file.
	if [[ ${CORRAL_BATS_DEBIAN:-1} != 0 ]] && image=$(debian_image); then
		cp "$image" "$testdata/debian-$arch.tar.xz"
	else
		log "no Debian image: hooks.bats is skipped"
		AUTO_SKIPS+=("hooks.bats | * | no Debian image (CORRAL_BATS_DEBIAN=0 or debootstrap failed)")
		tar -cJf "$testdata/debian-$arch.tar.xz" -T /dev/null
	fi
}

# corral_link prints a runc-named link to the runtime under test, building
# corral from this repository when none was given.
corral_link() {
	local bin=${1:-} dir=$2
	if [[ -z $bin ]]; then
		log "building corral from $REPO"
		(cd "$REPO" && CGO_ENABLED=1 go build -o "$dir/corrald" ./cmd/corrald) || die "cannot build corrald"
		bin=$dir/corrald
	fi
	[[ -x $bin ]] || die "runtime under test $bin is not executable"
	bin=$(realpath "$bin")
	if [[ $(basename "$bin") == *runc ]]; then
		printf '%s\n' "$bin"
		return
	fi
	ln -sfn "$bin" "$dir/corral-runc"
	printf '%s\n' "$dir/corral-runc"
}

check_tools() {
	local t missing=()
	for t in bats jq gawk gcc xz tar unshare script ip go pkg-config; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (scripts/install.sh installs them)"
}

main() {
	[[ $(id -u) == 0 ]] || die "must run as root"
	if [[ -x /usr/local/go/bin/go ]] && [[ ":$PATH:" != *:/usr/local/go/bin:* ]]; then
		export PATH=/usr/local/go/bin:$PATH
	fi
	export GOTOOLCHAIN=local
	check_tools
	RUNC=${RUNC:-/usr/sbin/runc}
	[[ -x $RUNC ]] || die "reference runtime $RUNC not found (set RUNC)"
	local work only=${CORRAL_BATS_ONLY:-}
	START=$(date +%s)
	work=$(mktemp -d "${TMPDIR:-/tmp}/corral-runc-bats.XXXXXX")
	# userns.bats maps root to uid 100000, which must reach the bundles.
	chmod 0755 "$work"
	# shellcheck disable=SC2064 # expand now: work is local.
	trap "rm -rf '$work'" EXIT
	AUTO_SKIPS=()
	make_kit "$work/runc"
	RUNTIMES=""
	[[ $only == corral ]] || RUNTIMES+="runc "
	if [[ $only != runc ]]; then
		CORRAL_LINK=$(corral_link "${1:-${CORRAL:-}}" "$work")
		RUNTIMES+="corral"
	fi
	RESULTS=${CORRAL_BATS_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/corral-runc-bats-out.XXXXXX")}
	mkdir -p "$RESULTS" "$work/run"
	plan_tests "$work/runc/tests/integration" "$RESULTS/plan"
	export RUNC CORRAL_LINK RESULTS RUNTIMES
	log "set-up took $(($(date +%s) - START))s; running $(awk -F'\t' '$3 == "run"' "$RESULTS/plan" | wc -l) tests per runtime"
	: | unshare --mount --net --uts --ipc --propagation private -- \
		"${BASH_SOURCE[0]}" __inner "$work" ||
		die "the run inside the private namespaces failed"
	report
}

if [[ ${1:-} == __inner ]]; then
	inner "$2"
else
	main "$@"
fi
