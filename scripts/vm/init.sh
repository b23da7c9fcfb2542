#!/bin/busybox sh
# shellcheck shell=sh
# init.sh: /init of the cgroup v2 test VM that scripts/vm-test.sh boots.
#
# Stage 1 (pid 1 on the initramfs): copy the root into a tmpfs and
# switch_root there, since pivot_root(2), which the runtime under test uses,
# refuses to move the initramfs. Stage 2 (pid 1 on the tmpfs): mount proc,
# sys, dev, a pure cgroup v2 hierarchy with every controller enabled at the
# root, load the kernel modules in /etc/vm-test/modules, then run each test
# binary listed in /etc/vm-test/tests and power off.
#
# Channels: /dev/console (ttyS0) gets the boot messages and one progress line
# per step, each starting with "vm-test:"; /dev/ttyS1 gets only the tests'
# go test -json events (test2json), for the host to count.
#
# /etc/vm-test/tests: one line per package: BINARY IMPORT_PATH DIR, where
# BINARY is in /opt/corral-vm/tests and DIR is the package's directory
# relative to the module root (the test runs there, as under go test).
# /etc/vm-test/env: sourced; sets VM_TEST_TIMEOUT, VM_TEST_RUN, VM_TEST_ENV.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root

say() { echo "vm-test: $*" >/dev/console; }

stage1() {
	mkdir -p /proc /newroot
	mount -t proc proc /proc
	mount -t tmpfs -o mode=0755 root /newroot
	for e in /*; do
		case $e in
		/newroot | /proc) ;;
		*) cp -a "$e" /newroot/ ;;
		esac
	done
	mkdir -p /newroot/proc
	: >/newroot/.vm-test-root
	umount /proc
	exec switch_root /newroot /init
}

mount_basics() {
	mkdir -p /proc /sys /dev /tmp /run
	mount -t proc -o nosuid,nodev,noexec proc /proc
	mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
	mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
	mkdir -p /dev/pts /dev/shm /dev/mqueue
	mount -t devpts -o nosuid,noexec,gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
	mount -t tmpfs -o nosuid,nodev,mode=1777 shm /dev/shm
	mount -t mqueue -o nosuid,nodev,noexec mqueue /dev/mqueue
	ln -sfn /proc/self/fd /dev/fd
	ln -sfn /proc/self/fd/0 /dev/stdin
	ln -sfn /proc/self/fd/1 /dev/stdout
	ln -sfn /proc/self/fd/2 /dev/stderr
	# Not nodev: tests make device nodes in t.TempDir(), as on the host.
	mount -t tmpfs -o nosuid,mode=1777 tmp /tmp
	mount -t tmpfs -o nosuid,nodev,mode=0755 run /run
}

# mount_cgroup2 mounts the unified hierarchy as systemd does and enables
# every available controller for the root's children.
mount_cgroup2() {
	mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
		mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
	# shellcheck disable=SC2013 # one line of words.
	for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
		echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control ||
			say "cannot enable controller $c at the root"
	done
	say "cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
	say "root subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
}

load_modules() {
	[ -s /etc/vm-test/modules ] || return 0
	# shellcheck disable=SC2013 # one module a line.
	for m in $(cat /etc/vm-test/modules); do
		modprobe "$m" || say "cannot load kernel module $m"
	done
}

# run_one runs one test binary with its JSON events to /dev/ttyS1, and closes
# the stream with go test's own package line (ok / FAIL).
run_one() {
	bin=$1 pkg=$2 dir=$3
	mkdir -p "/corral/$dir"
	say "run $pkg"
	start=$(date +%s)
	(
		cd "/corral/$dir" || exit 1
		# shellcheck disable=SC2086 # VM_TEST_ENV is a list of K=V words.
		: | env CORRAL_BINARY=/bin/corral $VM_TEST_ENV "/opt/corral-vm/tests/$bin" \
			-test.v=test2json -test.count=1 -test.timeout="$VM_TEST_TIMEOUT" \
			${VM_TEST_RUN:+"-test.run=$VM_TEST_RUN"} >/tmp/vm-test.out 2>&1
		echo $? >/tmp/vm-test.rc
	)
	rc=$(cat /tmp/vm-test.rc)
	secs=$(($(date +%s) - start))
	if [ "$rc" = 0 ]; then
		printf 'ok  \t%s\t%s.000s\n' "$pkg" "$secs" >>/tmp/vm-test.out
	else
		printf 'FAIL\t%s\t%s.000s\n' "$pkg" "$secs" >>/tmp/vm-test.out
	fi
	test2json -t -p "$pkg" </tmp/vm-test.out >/dev/ttyS1
	say "exit $rc $pkg ${secs}s"
}

stage2() {
	mount_basics
	exec </dev/null >/dev/console 2>&1
	hostname corral-vm
	mount_cgroup2
	ip link set lo up
	load_modules
	set -a
	# shellcheck disable=SC1091 # written by vm-test.sh into the initramfs.
	. /etc/vm-test/env
	set +a
	stty -F /dev/ttyS1 raw -echo
	say "kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/ { print $2 }' /proc/meminfo) kB"
	while read -r bin pkg dir; do
		[ -n "$bin" ] && run_one "$bin" "$pkg" "$dir"
	done </etc/vm-test/tests
	if [ -x /etc/vm-test/extra.sh ]; then
		say "run extra.sh"
		/etc/vm-test/extra.sh
		say "extra.sh exit $?"
	fi
	say "done"
	sync
	sleep 1
	poweroff -f
	sleep 5
	exit 1
}

if [ -e /.vm-test-root ]; then
	stage2
else
	stage1
fi
