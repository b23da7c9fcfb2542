#!/usr/bin/env bash
# vm-test.sh: run corral's cgroup tests on a pure cgroup v2 kernel, in a small
# virtual machine (KVM, else TCG emulation), since this machine's own cgroups
# are a v1 hybrid. docs/vm-tests.md tells more.
#
# It boots Debian's linux-image-amd64 kernel (downloaded and unpacked into a
# cache, never installed) with cgroup_no_v1=all, on an initramfs holding
# busybox-static, corral, the test binaries (go test -c) and scripts/vm/init.sh
# as /init. Inside, each test binary runs as root, as under scripts/test.sh
# (testutil.Sandbox, CORRAL_BINARY=/bin/corral); its go test -json events come
# back on a second serial port. There is no network device in the VM.
#
# Exit status: 0 when every package passed, 1 otherwise (or when the VM did
# not finish). The last line counts the tests: "vm-test: N passed, N failed,
# N skipped".
#
# `vm-test.sh --prepare` only installs the Debian packages and fetches the
# kernel into the cache (scripts/install.sh runs it), so that a later run
# needs no download.
#
# Environment:
#   CORRAL_VM_PACKAGES="./runtime/cgroups ./runtime/nsenter ./testutil ./test/oci"
#                                 packages to test
#   CORRAL_VM_RUN=REGEXP          -test.run for every package
#   CORRAL_VM_ENV="K=V ..."       extra environment for the test binaries
#                                 (e.g. OCI_RUNTIME=/usr/sbin/runc)
#   CORRAL_VM_ACCEL=auto          kvm, tcg, or auto: KVM when it works, else TCG
#   CORRAL_VM_OPTIONAL=1          exit 0 with a message ("vm-test: skipped: ...")
#                                 when this machine cannot run the VM: not root,
#                                 not x86_64, too little free memory, no qemu and
#                                 no apt-get to install it, or CORRAL_VM_ACCEL=kvm
#                                 and KVM is missing (scripts/test.sh sets it)
#   CORRAL_VM_TIMEOUT=600         seconds before the VM is killed
#   CORRAL_VM_TEST_TIMEOUT=9m     -test.timeout per package (default: the VM's
#                                 timeout less one minute)
#   CORRAL_VM_MEMORY=2048 CORRAL_VM_CPUS=2
#   CORRAL_VM_MODULES="overlay veth bridge macvlan crc32c_generic nf_tables
#                     virtio_pci virtio_blk"  modprobe'd at boot
#   CORRAL_VM_PREBUILT="./testutil/testprog"  binaries testutil builds with
#                                 go build (the VM has no Go: scripts/vm/go-shim.sh)
#   CORRAL_VM_HOST_BINARIES="/usr/sbin/runc"  host programs copied in, with
#                                 their shared libraries
#   CORRAL_VM_GO=1                copy a lean Go toolchain into the VM, for tests
#                                 that build programs at run time (0: none)
#   CORRAL_VM_CONFORMANCE=1       also run test/oci/conformance.sh in the VM
#                                 (corral and runc; the suite must be built:
#                                 run the script once on the host first);
#                                 CORRAL_VM_CONFORMANCE_ONLY=REGEXP picks programs
#   CORRAL_VM_CACHE=/var/cache/corral-vm  the unpacked kernel, and the Go
#                                 toolchain part of the initramfs (keyed by the
#                                 go version and how it is built)
#   CORRAL_VM_OUT=DIR             keep console.log and results.json there
#   CORRAL_VM_VERBOSE=1           print the whole VM console, not only progress
#   CORRAL_TEST_LOG=FILE          append the go test -json events there (as
#                                 scripts/test.sh does), packages named vm:PATH
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/vm/build.sh
. "$REPO/scripts/vm/build.sh"
# shellcheck source=scripts/vm/report.sh
. "$REPO/scripts/vm/report.sh"

VM_PACKAGES=${CORRAL_VM_PACKAGES-./runtime/cgroups ./runtime/nsenter ./testutil ./test/oci}
VM_TIMEOUT=${CORRAL_VM_TIMEOUT:-600}
VM_TEST_TIMEOUT=${CORRAL_VM_TEST_TIMEOUT:-$((VM_TIMEOUT - 60))s}
VM_MEMORY=${CORRAL_VM_MEMORY:-2048}
VM_CPUS=${CORRAL_VM_CPUS:-2}
VM_CACHE=${CORRAL_VM_CACHE:-/var/cache/corral-vm}
DEBS=(qemu-system-x86 busybox-static cpio jq file)

# choose_accel sets ACCEL_ARGS for qemu: KVM where it works, else TCG (full
# emulation, a few times slower). CORRAL_VM_ACCEL=kvm|tcg forces one; a
# forced KVM that is missing fails, or exits 0 with CORRAL_VM_OPTIONAL=1.
choose_accel() {
	local accel=${CORRAL_VM_ACCEL:-auto} why=""
	if [ ! -c /dev/kvm ] || ! (exec 3<>/dev/kvm) 2>/dev/null; then
		why="no usable /dev/kvm"
		[ "$accel" != kvm ] || skip_or_die "CORRAL_VM_ACCEL=kvm but $why"
	elif [ -d /sys/module/kvm_pvm ]; then
		# This machine's /dev/kvm is nested KVM over PVM: a stock kernel
		# crawls there and dies on instructions its emulator lacks (KVM
		# internal error, emulation failure, on cmpxchg16b and xrstor).
		why="/dev/kvm is nested KVM over PVM (kvm_pvm), which cannot run a stock kernel"
	fi
	case $accel in
	kvm) why="" ;;
	tcg) why="CORRAL_VM_ACCEL=tcg" ;;
	auto) ;;
	*) die "CORRAL_VM_ACCEL=$accel: want auto, kvm or tcg" ;;
	esac
	# shellcheck disable=SC2054 # qemu option values hold commas.
	if [ -n "$why" ]; then
		log "$why: emulating the VM with TCG (slower)"
		ACCEL_ARGS=(-accel tcg,thread=multi -cpu max)
	else
		ACCEL_ARGS=(-accel kvm -cpu host)
	fi
}

skip_or_die() {
	if [ "${CORRAL_VM_OPTIONAL:-}" = 1 ]; then
		printf 'vm-test: skipped: %s (the cgroup v2 tests did not run)\n' "$1"
		exit 0
	fi
	die "$1"
}

# check_machine stops here when this machine cannot run the VM at all. TCG
# needs no KVM, and a missing qemu is installed, not a reason to skip.
check_machine() {
	local avail need=$((VM_MEMORY + 512))
	[ "$(id -u)" -eq 0 ] || skip_or_die "vm-test.sh must run as root"
	[ "$(uname -m)" = x86_64 ] ||
		skip_or_die "this is $(uname -m): the VM runs the host's test binaries on an x86_64 kernel"
	avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
	[ "${avail:-0}" -ge "$need" ] ||
		skip_or_die "${avail:-0} MiB of memory available, the VM needs $need (CORRAL_VM_MEMORY=$VM_MEMORY)"
	command -v qemu-system-x86_64 >/dev/null || command -v apt-get >/dev/null ||
		skip_or_die "no qemu-system-x86_64 and no apt-get to install it"
}

install_packages() {
	local p missing=()
	for p in "${DEBS[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	log "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2
	apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 \
		"${missing[@]}" </dev/null >&2
}

# kernel_package prints the versioned kernel package linux-image-amd64 pulls in.
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

# ensure_kernel sets KROOT (the unpacked package), KVER and KERNEL, after
# downloading and unpacking the kernel package into the cache if needed. Only
# dpkg-deb -x: nothing is installed, this machine's boot is untouched.
ensure_kernel() {
	local pkg dir
	pkg=$(kernel_package)
	if [ -z "$pkg" ]; then
		apt-get update -q >&2
		pkg=$(kernel_package)
	fi
	[ -n "$pkg" ] || die "cannot tell which kernel package linux-image-amd64 depends on"
	dir=$VM_CACHE/$pkg
	if [ ! -f "$dir/.complete" ]; then
		unpack_kernel "$pkg" "$dir"
	fi
	KROOT=$dir/root
	KVER=$(ls "$KROOT/lib/modules")
	KERNEL=$KROOT/boot/vmlinuz-$KVER
	[ -f "$KERNEL" ] || die "no $KERNEL in the unpacked $pkg"
}

unpack_kernel() {
	local pkg=$1 dir=$2 tmp kver
	log "downloading $pkg into $dir (unpacked, not installed)"
	mkdir -p "$VM_CACHE"
	tmp=$(mktemp -d "$VM_CACHE/.unpack.XXXXXX")
	if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2); then
		rm -rf "$tmp"
		die "cannot download $pkg"
	fi
	dpkg-deb -x "$tmp/${pkg}_"*.deb "$tmp/root"
	rm -f "$tmp"/*.deb
	kver=$(ls "$tmp/root/lib/modules")
	busybox depmod -b "$tmp/root" "$kver"
	touch "$tmp/.complete"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	# Older kernels are of no further use.
	find "$VM_CACHE" -mindepth 1 -maxdepth 1 -name 'linux-image-*' ! -path "$dir" \
		-exec rm -rf {} +
}

# run_vm boots the VM on $OUT/initramfs.cpio; the console goes to
# $OUT/console.log (progress lines to stderr), the tests' events to
# $OUT/results.json. Returns timeout's status.
run_vm() {
	local append rc=0
	append="console=ttyS0 quiet panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"
	log "booting $KVER with ${ACCEL_ARGS[1]%%,*} (${VM_CPUS} cpus, ${VM_MEMORY} MiB, timeout ${VM_TIMEOUT}s)"
	: >"$OUT/results.json"
	# A small read-only disk: tests look for a block device to attack.
	truncate -s 1M "$WORK/disk.img"
	local conformance=()
	[ ! -f "$WORK/conformance.img" ] ||
		conformance=(-drive "file=$WORK/conformance.img,if=virtio,format=raw,readonly=on")
	timeout -k 10 "$VM_TIMEOUT" qemu-system-x86_64 \
		"${ACCEL_ARGS[@]}" -m "$VM_MEMORY" -smp "$VM_CPUS" \
		-nodefaults -no-user-config -display none -nic none -no-reboot \
		-chardev stdio,id=con,signal=off -serial chardev:con \
		-serial "file:$OUT/results.json" \
		-drive "file=$WORK/disk.img,if=virtio,format=raw,readonly=on" \
		"${conformance[@]}" \
		-kernel "$KERNEL" -initrd "$OUT/initramfs.cpio" -append "$append" \
		</dev/null 2>&1 | sed -u 's/\r$//' | tee "$OUT/console.log" | show_console >&2 || rc=$?
	return "$rc"
}

show_console() {
	if [ "${CORRAL_VM_VERBOSE:-}" = 1 ]; then
		cat
	else
		grep --line-buffered -E '^vm-test:|^conformance:|Kernel panic|BUG:|Oops|qemu' || true
	fi
}

main() {
	VM_START=$SECONDS
	check_machine
	if [ "${1:-}" = --prepare ]; then
		install_packages
		ensure_kernel
		log "VM tests ready: $KERNEL"
		return
	fi
	[ $# -eq 0 ] || die "usage: vm-test.sh [--prepare]"
	require_go
	choose_accel
	install_packages
	ensure_kernel
	local status=0 build_start=$SECONDS
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/corral-vm.XXXXXX")
	OUT=${CORRAL_VM_OUT:-$WORK/out}
	mkdir -p "$OUT"
	trap 'rm -rf "$WORK"' EXIT
	build_initramfs "$WORK/root" "$OUT/initramfs.cpio"
	cp "$WORK/root/etc/vm-test/tests" "$OUT/tests"
	rm -rf "$WORK/root"
	log "initramfs: $(du -m "$OUT/initramfs.cpio" | cut -f1) MiB, built in $((SECONDS - build_start))s"
	run_vm || status=$?
	rm -f "$OUT/initramfs.cpio"
	report "$status" || status=1
	if [ "$status" -ne 0 ] && [ -z "${CORRAL_VM_OUT:-}" ]; then
		rm -rf "$VM_CACHE/last-failed"
		cp -r "$OUT" "$VM_CACHE/last-failed"
		log "console log and results kept in $VM_CACHE/last-failed"
	fi
	[ "$status" -eq 0 ]
}

main "$@"
