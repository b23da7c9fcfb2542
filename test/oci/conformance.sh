#!/usr/bin/env bash
# conformance.sh — run the OCI runtime-tools validation suite (pinned at
# v0.9.0) against corral and against runc in one sitting, and fail only
# where runc passes a program that corral fails.
#
# Usage: test/oci/conformance.sh [CORRAL]
#
#   CORRAL  path of the runtime under test: a runc-compatible binary
#           (e.g. a corral-runc symlink), or the corral binary itself, in
#           which case it is called as `corral runtime <cmd>`.
#           Default: $CORRAL, else /usr/local/bin/corral-runc (skipped
#           with a message if absent).  CORRAL= (empty) runs only the
#           reference runtimes.
#
# Environment:
#   RUNC                 reference runtime (default /usr/sbin/runc)
#   CRUN                 also run crun at this path; empty = skip (default:
#                        /usr/bin/crun if it exists)
#   CONFORMANCE_TIMEOUT  seconds allowed to each program (default 60)
#   CONFORMANCE_ONLY     extended regexp; run only programs whose name matches
#   CONFORMANCE_CACHE    where the built suite is kept (default
#                        $XDG_CACHE_HOME/corral-conformance, else
#                        /var/cache/corral-conformance)
#   CONFORMANCE_OUT      directory for the TAP logs (default: a new mktemp dir)
#
# Everything runs inside private mount, network, UTS and IPC namespaces;
# each program gets its own PID namespace (so nothing it starts outlives it)
# and every runtime keeps its state (--root) in a tmpfs of that sitting.
# Exit status: 0 = no regression against runc; 1 = regressions; 2 = the
# suite could not be built or the arguments are wrong.
set -euo pipefail

readonly RT_MODULE=github.com/opencontainers/runtime-tools
readonly RT_VERSION=v0.9.0
# BUILD_REV changes the cache key; bump it when build_suite changes.
readonly BUILD_REV=1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
REPO=$(cd "$HERE/../.." && pwd)
readonly REPO

log() { printf '%s\n' "conformance: $*" >&2; }
die() {
	log "$*"
	exit 2
}

# cache_root prints the directory the built suite lives in.
cache_root() {
	if [[ -n ${CONFORMANCE_CACHE:-} ]]; then
		printf '%s\n' "$CONFORMANCE_CACHE"
	elif [[ -n ${XDG_CACHE_HOME:-} ]]; then
		printf '%s\n' "$XDG_CACHE_HOME/corral-conformance"
	else
		printf '%s\n' /var/cache/corral-conformance
	fi
}

# suite_stamp identifies one build: suite version, build recipe, pinned
# deps, Go version.
suite_stamp() {
	{
		printf '%s@%s build %s\n' "$RT_MODULE" "$RT_VERSION" "$BUILD_REV"
		go env GOVERSION GOARCH
		cat "$HERE/conformance/runtime-tools.go.mod" "$HERE/conformance/runtime-tools.go.sum"
	} | sha256sum | cut -d' ' -f1
}

# module_dir downloads the pinned module and prints its directory.
module_dir() {
	local tmp dir
	tmp=$(mktemp -d)
	dir=$(cd "$tmp" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$RT_MODULE@$RT_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	rmdir "$tmp"
	[[ -n $dir && -d $dir ]] || return 1
	printf '%s\n' "$dir"
}

# make_rootfs_tarball writes a busybox rootfs tarball to $1.  The module zip
# ships rootfs-<arch>.tar.gz; this is the fallback when it does not.
make_rootfs_tarball() {
	local out=$1 dir
	dir=$(mktemp -d)
	if [[ -x $REPO/scripts/busybox-rootfs.sh ]]; then
		"$REPO/scripts/busybox-rootfs.sh" "$dir/rootfs"
	else
		minimal_rootfs "$dir/rootfs"
	fi
	tar -C "$dir/rootfs" -czf "$out" .
	rm -rf "$dir"
}

# minimal_rootfs lays out a busybox-static rootfs in $1.
minimal_rootfs() {
	local root=$1 applet
	[[ -x /bin/busybox ]] || die "need /bin/busybox (apt-get install busybox-static)"
	mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,root}
	cp /bin/busybox "$root/bin/busybox"
	for applet in $("$root/bin/busybox" --list); do
		[[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	chmod 1777 "$root/tmp"
}

# build_suite builds runtimetest and every validation program into $1/bin.
build_suite() {
	local out=$1 src arch prog name
	src=$(module_dir) || die "cannot download $RT_MODULE@$RT_VERSION"
	arch=$(go env GOARCH)
	mkdir -p "$out/bin"
	cp -r "$src" "$out/src"
	chmod -R u+w "$out/src"
	cp "$HERE/conformance/runtime-tools.go.mod" "$out/src/go.mod"
	cp "$HERE/conformance/runtime-tools.go.sum" "$out/src/go.sum"
	export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false"
	(cd "$out/src" && go mod download) || die "cannot download the suite's dependencies"
	(cd "$out/src" && CGO_ENABLED=0 go build -ldflags='-s -w' -o "$out/bin/runtimetest" ./cmd/runtimetest) ||
		die "cannot build runtimetest"
	for prog in "$out"/src/validation/*/; do
		name=$(basename "$prog")
		[[ $name == util ]] && continue
		(cd "$out/src" && go build -ldflags='-s -w' -o "$out/bin/$name.t" "./validation/$name") ||
			die "cannot build validation program $name"
	done
	if [[ -f $out/src/rootfs-$arch.tar.gz ]]; then
		cp "$out/src/rootfs-$arch.tar.gz" "$out/bin/"
	else
		log "rootfs-$arch.tar.gz is not in the module; building one from busybox-static"
		make_rootfs_tarball "$out/bin/rootfs-$arch.tar.gz"
	fi
}

# prune_cache removes builds in $1 other than $2 (older pins or recipes).
prune_cache() {
	local old
	for old in "$1"/runtime-tools-*; do
		[[ $old == "$2" || ! -f $old/.complete ]] || rm -rf "$old"
	done
}

# lock_sitting serializes sittings on this machine: the programs use fixed
# cgroup paths (/cgrouptest), so two at once would disturb each other.  The
# lock is held on fd 9 of this shell; children started with 9>&- lack it.
lock_sitting() {
	local dir=/run/lock
	[[ -d $dir ]] || dir=${TMPDIR:-/tmp}
	exec 9>"$dir/corral-conformance.lock"
	if ! flock -n 9; then
		log "another conformance sitting is running; waiting for it"
		flock 9
	fi
}

# ensure_suite prints the bin dir of a built suite, building it if needed.
ensure_suite() {
	local root stamp dir tmp
	command -v go >/dev/null || die "go is not installed"
	root=$(cache_root)
	stamp=$(suite_stamp)
	dir=$root/runtime-tools-$RT_VERSION-${stamp:0:12}
	if [[ ! -f $dir/.complete ]]; then
		log "building $RT_MODULE@$RT_VERSION into $dir"
		mkdir -p "$root"
		tmp=$(mktemp -d "$root/.build.XXXXXX")
		(build_suite "$tmp") || {
			rm -rf "$tmp"
			exit 2
		}
		touch "$tmp/.complete"
		rm -rf "$dir"
		mv "$tmp" "$dir"
		prune_cache "$root" "$dir"
	fi
	printf '%s\n' "$dir/bin"
}

# ---------------------------------------------------------------------------
# Inside the private namespaces.

# write_wrapper writes an executable at $1 that runs runtime $2 (argv0 kind
# $3: "corral" adds the runtime subcommand) with state root $4.
write_wrapper() {
	local out=$1 bin=$2 kind=$3 state=$4 sub=""
	[[ $kind == corral ]] && sub=runtime
	mkdir -p "$state"
	{
		printf '#!/bin/sh\n'
		printf 'exec %q %s --root %q "$@"\n' "$bin" "$sub" "$state"
	} >"$out"
	chmod +x "$out"
}

# cleanup_cgroups removes empty cgroups the suite's containers left behind:
# only names the suite uses (cgrouptest, testdir, container, UUID ids).
cleanup_cgroups() {
	local d
	find /sys/fs/cgroup -mindepth 2 -depth -type d \( -name cgrouptest -o -name testdir \
		-o -name container -o -regex '.*/[0-9a-f]\{8\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{12\}' \) \
		2>/dev/null | while read -r d; do
		grep -qxF "$d" "$SCRATCH/cgroups.before" || rmdir "$d" 2>/dev/null || true
	done
	return 0
}

# run_program runs one validation program $2 with runtime wrapper $1 and
# writes $3.tap (stdout), $3.err (stderr) and $3.rc.
run_program() {
	local wrapper=$1 prog=$2 out=$3 rc=0
	(cd "$SCRATCH/run" && RUNTIME=$wrapper TMPDIR=$SCRATCH/tmp \
		timeout -k 5 "$CONFORMANCE_TIMEOUT" \
		unshare --pid --fork --kill-child --mount-proc "$SUITE/$prog.t" \
		<"$SCRATCH/stdin" >"$out.tap" 2>"$out.err") || rc=$?
	printf '%s\n' "$rc" >"$out.rc"
	cleanup_cgroups
}

# verdict prints pass, skip (every test point skipped), timeout or fail for
# the logs $1.{tap,rc}: a non-zero exit fails, else conformance/verdict.awk
# judges the TAP (see there for the quirks of the v0.9.0 programs).
verdict() {
	local out=$1 rc
	rc=$(cat "$out.rc")
	if [[ $rc == 124 || $rc == 137 ]]; then
		echo timeout
	elif [[ $rc != 0 ]]; then
		echo fail
	else
		local allow_empty=0
		[[ $out != *_fail ]] || allow_empty=1
		awk -v allow_empty="$allow_empty" -f "$HERE/conformance/verdict.awk" "$out.tap"
	fi
}

# run_runtime runs every program against runtime $1 (label) at path $2.
run_runtime() {
	local label=$1 bin=$2 kind=runc wrapper prog v
	[[ $(basename "$bin") == corral ]] && kind=corral
	wrapper=$SCRATCH/bin/$label
	write_wrapper "$wrapper" "$bin" "$kind" "$SCRATCH/state/$label"
	mkdir -p "$RESULTS/$label"
	log "running ${#PROGRAMS[@]} programs against $label ($bin)"
	for prog in "${PROGRAMS[@]}"; do
		run_program "$wrapper" "$prog" "$RESULTS/$label/$prog"
		v=$(verdict "$RESULTS/$label/$prog") || v=fail
		if [[ $label == corral && $v != pass && $v != skip ]]; then
			# A second chance for the runtime under test: some programs
			# race their own container on a loaded machine (pidfile's
			# "true" may exit before its state is read; crun fails it too).
			run_program "$wrapper" "$prog" "$RESULTS/$label/$prog"
			v=$(verdict "$RESULTS/$label/$prog") || v=fail
		fi
		printf '%s\n' "$v" >"$RESULTS/$label/$prog.verdict"
		printf '  %-40s %s\n' "$prog" "$v" >&2
	done
}

# crun_workaround hides the hybrid layout's unified cgroup.controllers from
# crun (it refuses a v1 hybrid otherwise); private to this mount namespace.
crun_workaround() {
	local f=/sys/fs/cgroup/unified/cgroup.controllers
	[[ -e $f ]] || return 0
	: >"$SCRATCH/empty"
	mount --bind "$SCRATCH/empty" "$f"
}

inner() {
	SCRATCH=$1
	mount -t tmpfs -o mode=0755 corral-conformance "$SCRATCH"
	mkdir -p "$SCRATCH"/{bin,state,tmp,run}
	: >"$SCRATCH/stdin"
	# linux_cgroups_network reads the names of the first two interfaces; a
	# fresh network namespace has only lo.  No dummy driver here: use veth.
	ip link add conf0 type veth peer name conf1 2>/dev/null || log "cannot add a veth pair"
	cp "$SUITE/runtimetest" "$SUITE"/rootfs-*.tar.gz "$SCRATCH/run/"
	find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null >"$SCRATCH/cgroups.before" || true
	mapfile -t PROGRAMS < <(find "$SUITE" -maxdepth 1 -name '*.t' -printf '%f\n' | sed 's/\.t$//' |
		grep -E -- "${CONFORMANCE_ONLY:-.}" | sort)
	((${#PROGRAMS[@]} > 0)) || die "no validation program matches '${CONFORMANCE_ONLY:-}'"
	local label
	for label in $RUNTIMES; do
		[[ $label == crun ]] && crun_workaround
		run_runtime "$label" "$(runtime_path "$label")"
	done
	sleep 1
	cleanup_cgroups
}

runtime_path() {
	case $1 in
	corral) printf '%s\n' "$CORRAL" ;;
	runc) printf '%s\n' "$RUNC" ;;
	crun) printf '%s\n' "$CRUN" ;;
	esac
}

# ---------------------------------------------------------------------------
# Report.

# count_verdicts prints how many programs got verdict $2 on runtime $1.
count_verdicts() {
	cat "$RESULTS/$1"/*.verdict | grep -cx "$2" || true
}

report() {
	local label prog line v p f s
	printf '\n%-40s' program
	for label in $RUNTIMES; do printf ' %-8s' "$label"; done
	printf '\n'
	for prog in $(find "$RESULTS/runc" -name '*.verdict' -printf '%f\n' | sed 's/\.verdict$//' | sort); do
		line=$(printf '%-40s' "$prog")
		for label in $RUNTIMES; do
			v=$(cat "$RESULTS/$label/$prog.verdict" 2>/dev/null || echo -)
			line+=$(printf ' %-8s' "$v")
		done
		printf '%s\n' "$line"
	done
	printf '\n'
	for label in $RUNTIMES; do
		p=$(count_verdicts "$label" pass)
		s=$(count_verdicts "$label" skip)
		f=$(($(count_verdicts "$label" fail) + $(count_verdicts "$label" timeout)))
		printf '%s: %d passed, %d failed\n' "$label" $((p + s)) "$f"
		((s == 0)) || printf '  (%s: %d of those passes skipped every test point)\n' "$label" "$s"
	done
}

# regressions prints programs runc passes and corral fails; returns 1 if any.
regressions() {
	local prog rv cv found=0
	[[ " $RUNTIMES " == *" corral "* ]] || return 0
	for prog in $(find "$RESULTS/runc" -name '*.verdict' -printf '%f\n' | sed 's/\.verdict$//' | sort); do
		rv=$(cat "$RESULTS/runc/$prog.verdict")
		cv=$(cat "$RESULTS/corral/$prog.verdict")
		if [[ $rv == pass || $rv == skip ]] && [[ $cv != pass && $cv != skip ]]; then
			((found == 1)) || printf '\nrunc passes but corral fails:\n'
			found=1
			printf '  %s (%s)\n' "$prog" "$cv"
		fi
	done
	((found == 0)) || return 1
	printf '\nno program that runc passes fails on corral\n'
}

main() {
	[[ $(id -u) == 0 ]] || die "must run as root"
	local explicit=1
	if (($# > 0)); then
		CORRAL=$1
	elif [[ ! -v CORRAL ]]; then
		CORRAL=/usr/local/bin/corral-runc
		explicit=0
	fi
	RUNC=${RUNC:-/usr/sbin/runc}
	if [[ ! -v CRUN ]]; then
		CRUN=""
		[[ ! -x /usr/bin/crun ]] || CRUN=/usr/bin/crun
	fi
	CONFORMANCE_TIMEOUT=${CONFORMANCE_TIMEOUT:-60}
	[[ -x $RUNC ]] || die "reference runtime $RUNC not found (set RUNC)"
	RUNTIMES=runc
	if [[ -z $CORRAL ]]; then
		log "CORRAL is empty: running the reference runtimes only"
	elif [[ -x $CORRAL ]]; then
		RUNTIMES="corral runc"
	elif ((explicit)); then
		die "runtime under test $CORRAL is not executable"
	else
		log "corral not found at $CORRAL: running the reference runtimes only"
	fi
	[[ -z $CRUN ]] || RUNTIMES+=" crun"
	lock_sitting
	SUITE=$(ensure_suite 9>&-)
	RESULTS=${CONFORMANCE_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/corral-conformance.XXXXXX")}
	mkdir -p "$RESULTS"
	local scratch
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/corral-conformance-scratch.XXXXXX")
	export CORRAL RUNC CRUN CONFORMANCE_TIMEOUT SUITE RESULTS RUNTIMES
	unshare --mount --net --uts --ipc --propagation private -- "${BASH_SOURCE[0]}" __inner "$scratch" 9>&- ||
		{
			rmdir "$scratch"
			die "the run inside the private namespaces failed"
		}
	rmdir "$scratch"
	report
	log "TAP logs are in $RESULTS"
	regressions
}

if [[ ${1:-} == __inner ]]; then
	inner "$2"
else
	main "$@"
fi
