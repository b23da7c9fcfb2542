#!/bin/sh
# go-shim.sh: installed as /usr/local/bin/go in the cgroup v2 test VM, which
# has no copy of corral's source. testutil builds its helper binaries with
# `go env GOMOD` and `go build ... -o OUT PKG`; this stand-in answers the
# first with the VM's module root and the second by copying the binary that
# scripts/vm-test.sh built for PKG on the host into
# /opt/corral-vm/prebuilt/<last element of PKG>. Any other command goes to
# the real go command when the VM has one (CORRAL_VM_GO=1), else fails.
set -eu

prebuilt=/opt/corral-vm/prebuilt
real=""
[ ! -r /etc/vm-test/goroot ] || real=$(cat /etc/vm-test/goroot)/bin/go

# prebuilt_for prints the prebuilt binary for the package a `go build`
# command line (without "build") names last, if there is one.
prebuilt_for() {
	pkg=""
	while [ $# -gt 0 ]; do
		case $1 in
		-o) shift ;;
		-*) ;;
		*) pkg=$1 ;;
		esac
		shift
	done
	case $pkg in
	./testutil/* | ./cmd/*) echo "$prebuilt/${pkg##*/}" ;;
	esac
}

# output prints the value of -o in a `go build` command line.
output() {
	while [ $# -gt 0 ]; do
		if [ "$1" = -o ]; then
			echo "${2:-}"
			return
		fi
		shift
	done
}

case ${1:-} in
env)
	if [ "${2:-}" = GOMOD ] && [ $# -eq 2 ]; then
		echo /corral/go.mod
		exit 0
	fi
	;;
build)
	shift
	src=$(prebuilt_for "$@")
	out=$(output "$@")
	if [ -n "$src" ]; then
		if [ -n "$out" ] && [ -f "$src" ]; then
			cp "$src" "$out"
			chmod 0755 "$out"
			exit 0
		fi
		echo "go (vm stand-in): no prebuilt binary $src; add the package to CORRAL_VM_PREBUILT" >&2
		exit 1
	fi
	set -- build "$@"
	;;
esac
if [ -n "$real" ] && [ -x "$real" ]; then
	exec "$real" "$@"
fi
echo "go (vm stand-in): no Go toolchain in this VM (CORRAL_VM_GO=1 adds one): go $*" >&2
exit 1
