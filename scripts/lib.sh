# shellcheck shell=bash
# lib.sh: helpers shared by corral's scripts. Source it, do not run it.
#
# After sourcing, REPO is the repository root, the current directory is REPO,
# and require_go has put a usable Go toolchain on PATH (or the script died).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1

# Never let the go command fetch another toolchain: this machine kind ships
# Go at /usr/local/go, and the network reaches only package registries.
export GOTOOLCHAIN=local
# cgo is required: runtime/nsenter is a C constructor, and -race needs cgo.
export CGO_ENABLED=1
# CORRAL_BUILD_FLAGS are go build's flags for cmd/corral (testutil/build.go
# holds the same, and a test keeps the two equal): a static binary with the
# pure Go user and name lookups, as docker's static builds are. The CLI is a
# process per command; dynamically linked it spent about 2.5 ms more of CPU
# at each start (the loader, libc's start-up, threads made through
# pthread_create), and a static glibc must not make NSS calls.
# shellcheck disable=SC2034,SC2054 # used by the scripts that source this; the comma is go's
CORRAL_BUILD_FLAGS=(-tags osusergo,netgo -ldflags=-extldflags=-static)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# gomod_version prints the Go version that go.mod asks for (e.g. 1.26.8).
gomod_version() {
	awk '$1 == "go" { print $2; exit }' "$REPO/go.mod"
}

# version_ge A B succeeds when version A >= version B (both like 1.26.8).
version_ge() {
	[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# require_go puts /usr/local/go/bin on PATH when present and checks that the
# go found there is at least the version go.mod names.
require_go() {
	if [ -x /usr/local/go/bin/go ]; then
		case ":$PATH:" in
		*:/usr/local/go/bin:*) ;;
		*) export PATH="/usr/local/go/bin:$PATH" ;;
		esac
	fi
	local want have
	want=$(gomod_version)
	[ -n "$want" ] || die "cannot read the go version from $REPO/go.mod"
	command -v go >/dev/null 2>&1 ||
		die "no go toolchain found: corral needs go >= $want at /usr/local/go/bin/go or on PATH (not downloaded by these scripts)"
	have=$(go env GOVERSION 2>/dev/null) || die "$(command -v go) does not run"
	have=${have#go}
	have=${have%%[-+ ]*}
	version_ge "$have" "$want" ||
		die "go $have at $(command -v go) is older than go $want required by go.mod; install go >= $want at /usr/local/go"
	# Tools installed with `go install` (staticcheck) land here.
	local gobin
	gobin=$(go env GOPATH)/bin
	case ":$PATH:" in
	*:"$gobin":*) ;;
	*) export PATH="$PATH:$gobin" ;;
	esac
}
