#!/usr/bin/env bash
# install.sh: set up a Debian 12 machine for corral, build and install it,
# make a busybox bundle and run a first container in it.
#
# Run as root. Idempotent: a second run skips apt when every package is
# already there, rebuilds corral and refreshes the bundle.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# Debian packages corral and its tests need. gcc/libc6-dev: cgo (the
# runtime/nsenter constructor, -race). runc, crun: peers for side-by-side tests.
# busybox-static: the test rootfs. iproute2: network namespaces in tests.
# docker.io: dockerd as a real caller of the runtime (test/callers), never
# started as a service (see install_packages). gawk, debootstrap,
# libseccomp-dev, pkg-config, xz-utils: runc's own bats tests
# (test/callers/runc-bats.sh: its helpers, its seccomp agent, a Debian image).
# qemu-system-x86, cpio: the cgroup v2 tests in a VM (scripts/vm-test.sh,
# a stage of scripts/test.sh), whose kernel prepare_vm fetches.
# skopeo, podman, umoci, docker-registry: the image interop tests
# (test/e2e/interop*_test.go) and bench/pull.sh; docker-registry is started
# by them on 127.0.0.1, never as a service (see install_packages).
# docker-compose (1.29.2, Python): the compose e2e test (test/e2e/compose),
# which checks that compose brings a project up, and does not recreate it,
# against corral's API. wrk: bench/ports.sh (published-port throughput).
PACKAGES=(
	build-essential gcc libc6-dev
	runc crun busybox-static iproute2
	git ca-certificates curl bats jq shellcheck file time
	docker.io
	gawk debootstrap libseccomp-dev pkg-config xz-utils
	qemu-system-x86 cpio
	skopeo podman umoci docker-registry
	docker-compose wrk
)
PREFIX=${CORRAL_PREFIX:-/usr/local}
BUNDLE=${CORRAL_BUNDLE:-/var/lib/corral/bundles/busybox}

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			printf '%s\n' "$p"
	done
}

install_packages() {
	local missing
	mapfile -t missing < <(missing_packages)
	if [ ${#missing[@]} -eq 0 ]; then
		log "Debian packages already installed"
		return
	fi
	log "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# No package may start a service (docker.io would start dockerd): a
	# policy-rc.d that denies every start, for the duration of the install.
	local policy=/usr/sbin/policy-rc.d made=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made=1
	fi
	apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
	[ -z "$made" ] || rm -f "$policy"
}

# prepare_vm fetches Debian's kernel for the cgroup v2 test VM into
# /var/cache/corral-vm (apt-get download from the configured mirror, unpacked
# there, never installed: the host's boot is untouched). A machine that
# cannot run the VM is told why and goes on; CORRAL_SKIP_VM=1 skips it.
prepare_vm() {
	if [ "${CORRAL_SKIP_VM:-}" = 1 ]; then
		log "CORRAL_SKIP_VM=1: kernel for the VM tests not fetched"
		return
	fi
	CORRAL_VM_OPTIONAL=1 bash "$REPO/scripts/vm-test.sh" --prepare
}

build_corral() {
	log "building $PREFIX/bin/corral with $(go version)"
	command -v gcc >/dev/null || die "gcc not found: cgo needs build-essential"
	# The engine (daemon, runtime, init) first: corral hands those over to
	# the corrald beside it.
	go build -buildvcs=false "${CORRAL_BUILD_FLAGS[@]}" -o "$PREFIX/bin/corrald.new" ./cmd/corrald
	mv -f "$PREFIX/bin/corrald.new" "$PREFIX/bin/corrald"
	go build -buildvcs=false "${CORRAL_BUILD_FLAGS[@]}" -o "$PREFIX/bin/corral.new" ./cmd/corral
	mv -f "$PREFIX/bin/corral.new" "$PREFIX/bin/corral"
	# The runtime on its own, with runc's command line, for dockerd and
	# containerd (which look runtimes up by name): without the engine's
	# packages it starts several times faster (cmd/corral-runc).
	rm -f "$PREFIX/bin/corral-runc"
	go build -buildvcs=false -o "$PREFIX/bin/corral-runc.new" ./cmd/corral-runc
	mv -f "$PREFIX/bin/corral-runc.new" "$PREFIX/bin/corral-runc"
	# The per-container monitor: a small static C program (one runs per
	# container, so its memory counts; a Go program cannot be that small);
	# the daemon finds it beside corral.
	bash cmd/corral-monitor/build.sh "$PREFIX/bin/corral-monitor.new"
	mv -f "$PREFIX/bin/corral-monitor.new" "$PREFIX/bin/corral-monitor"
}

# build_init builds corral-init, the init of `run --init`: static, because
# the container's rootfs may have no C library; the engine bind-mounts it
# read-only at /sbin/corral-init.
build_init() {
	local dir=$PREFIX/libexec/corral
	log "building $dir/corral-init (static)"
	mkdir -p "$dir"
	CGO_ENABLED=0 go build -buildvcs=false -trimpath -ldflags='-s -w' \
		-o "$dir/corral-init.new" ./cmd/corral-init
	mv -f "$dir/corral-init.new" "$dir/corral-init"
}

make_bundle() {
	log "making busybox bundle $BUNDLE"
	SPEC_RUNTIME="$PREFIX/bin/corral runtime" \
		bash "$REPO/scripts/busybox-rootfs.sh" --bundle "$BUNDLE" -- \
		sh -c 'echo hello from corral; uname -a'
}

# stop_old_daemon stops a corral daemon left running by an earlier install
# on the default socket, so that the next command starts the binary just
# built (the CLI starts the daemon when its socket does not answer).
stop_old_daemon() {
	local pidfile=/run/corral/corral.pid pid
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	kill "$pid" 2>/dev/null || return 0
	log "stopped the running corral daemon ($pid) to start the new binary"
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

# import_busybox leaves a runnable busybox:latest image in the store (the
# default data root, /var/lib/corral), imported from Debian's busybox-static:
# no network needed. An image already there under that name is kept.
import_busybox() {
	local corral=$PREFIX/bin/corral dir
	if "$corral" image inspect busybox:latest >/dev/null 2>&1; then
		log "busybox:latest already in the image store"
		return
	fi
	log "importing busybox:latest from Debian's busybox-static"
	dir=$(mktemp -d)
	bash "$REPO/scripts/busybox-rootfs.sh" "$dir/rootfs"
	tar -C "$dir/rootfs" --numeric-owner -cf "$dir/busybox.tar" .
	if ! "$corral" import -c 'CMD ["sh"]' \
		-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"$dir/busybox.tar" busybox:latest >/dev/null; then
		rm -rf "$dir"
		die "corral import of busybox:latest failed"
	fi
	rm -rf "$dir"
}

# first_container runs a first container through the engine, as a user
# would: the CLI starts the daemon itself when it is not running.
first_container() {
	log "running a first container: corral run --rm busybox echo ..."
	# The container gets a pipe of its own as stdin, never the host's /dev/null.
	if ! : | "$PREFIX/bin/corral" run --rm busybox echo "hello from a corral container"; then
		die "the first container failed (daemon log: /var/log/corral.log)"
	fi
}

main() {
	[ "$(id -u)" -eq 0 ] || die "install.sh must run as root"
	[ -r /etc/debian_version ] || log "warning: not a Debian machine; apt steps may fail"
	install_packages
	prepare_vm
	require_go
	build_corral
	build_init
	stop_old_daemon
	import_busybox
	make_bundle
	first_container
	log "done: $PREFIX/bin/corral, $PREFIX/bin/corral-runc, $PREFIX/bin/corral-monitor, $PREFIX/libexec/corral/corral-init, image busybox:latest, bundle $BUNDLE"
}

main "$@"
