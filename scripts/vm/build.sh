# shellcheck shell=bash
# build.sh: the initramfs of the cgroup v2 test VM. Sourced by
# scripts/vm-test.sh, which sets REPO, KROOT, KVER and the VM_* settings.
#
# The root it builds: busybox-static with a link per applet, scripts/vm/init.sh
# as /init, corral at /bin/corral, one go test -c binary per package in
# /opt/corral-vm/tests, the binaries testutil would go build in
# /opt/corral-vm/prebuilt (served by scripts/vm/go-shim.sh as `go`),
# test2json, chosen host programs with their shared libraries, the kernel
# modules to load with their dependencies, and /etc/vm-test/* for init.sh.

VM_PREBUILT=${CORRAL_VM_PREBUILT:-./testutil/testprog}
VM_HOST_BINARIES=${CORRAL_VM_HOST_BINARIES-/usr/sbin/runc}
VM_MODULES=${CORRAL_VM_MODULES:-overlay veth bridge macvlan crc32c_generic nf_tables virtio_pci virtio_blk}
VM_GO=${CORRAL_VM_GO:-1}

# build_initramfs lays the VM's root out in $1 and writes it to $2 as an
# uncompressed newc cpio archive, after the cached archive of the Go
# toolchain when the VM gets one (the kernel unpacks concatenated archives
# one after the other).
build_initramfs() {
	local root=$1 out=$2 toolchain=""
	mkdir -p "$root"
	vm_skeleton "$root"
	vm_busybox "$root"
	vm_go_binaries "$root"
	if [ "$VM_GO" = 1 ]; then
		toolchain=$(cached_go_toolchain)
		go env GOROOT >"$root/etc/vm-test/goroot"
	fi
	vm_test_binaries "$root"
	[ "${CORRAL_VM_CONFORMANCE:-}" != 1 ] || vm_conformance "$root"
	vm_host_binaries "$root"
	vm_libraries "$root"
	vm_modules "$root"
	vm_config "$root"
	{
		[ -z "$toolchain" ] || cat "$toolchain"
		(cd "$root" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet)
	} >"$out"
}

# cached_go_toolchain prints the path of a cpio archive of vm_go_toolchain's
# output, made once per Go installation and version of that function and
# kept in $VM_CACHE (building it compiles part of the standard library: tens
# of seconds; reading it back, well under one). Older archives are removed.
cached_go_toolchain() {
	local key file tmp
	key=$({ go version; go env GOROOT; declare -f vm_go_toolchain; } | sha256sum | cut -c1-16)
	file=$VM_CACHE/go-toolchain-$key.cpio
	if [ ! -f "$file" ]; then
		mkdir -p "$VM_CACHE"
		rm -rf "$VM_CACHE"/.go-toolchain.* # left by an interrupted run
		tmp=$(mktemp -d "$VM_CACHE/.go-toolchain.XXXXXX")
		install -d -m 0755 "$tmp/root"
		vm_go_toolchain "$tmp/root" >&2
		(cd "$tmp/root" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$tmp/cpio"
		mv "$tmp/cpio" "$file"
		rm -rf "$tmp"
		find "$VM_CACHE" -maxdepth 1 -name 'go-toolchain-*.cpio' ! -path "$file" -delete
	else
		log "Go toolchain for the VM from the cache: $file"
	fi
	printf '%s\n' "$file"
}

vm_skeleton() {
	local root=$1
	install -d -m 0755 "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc/vm-test,proc,sys,dev,run,root}
	install -d -m 0755 "$root"/{lib64,lib/x86_64-linux-gnu,corral,opt/corral-vm/tests,opt/corral-vm/prebuilt}
	install -d -m 1777 "$root/tmp"
	install -m 0755 "$REPO/scripts/vm/init.sh" "$root/init"
	install -m 0755 "$REPO/scripts/vm/go-shim.sh" "$root/usr/local/bin/go"
	install -m 0644 "$REPO/go.mod" "$root/corral/go.mod"
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
	printf '%s\n' 'root:x:0:' 'tty:x:5:' 'nogroup:x:65534:' >"$root/etc/group"
	printf '127.0.0.1\tlocalhost corral-vm\n::1\tlocalhost\n' >"$root/etc/hosts"
}

vm_busybox() {
	local root=$1 applet
	file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' ||
		die "/bin/busybox is not Debian's busybox-static"
	install -m 0755 /bin/busybox "$root/bin/busybox"
	while read -r applet; do
		case $applet in
		"" | bin/busybox) continue ;;
		esac
		ln -sfn /bin/busybox "$root/$applet"
	done < <(/bin/busybox --list-full)
}

# vm_go_binaries builds corral (cgo and static, as install.sh does),
# test2json and the prebuilt helpers (CGO_ENABLED=0, as testutil builds them).
vm_go_binaries() {
	local root=$1 pkg
	log "building corral, test2json and ${VM_PREBUILT}"
	go build -buildvcs=false -trimpath "${CORRAL_BUILD_FLAGS[@]}" -o "$root/bin/corrald" ./cmd/corrald
	go build -buildvcs=false -trimpath "${CORRAL_BUILD_FLAGS[@]}" -o "$root/bin/corral" ./cmd/corral
	ln -sfn /bin/corral "$root/opt/corral-vm/prebuilt/corral"
	CGO_ENABLED=0 go build -trimpath -o "$root/bin/test2json" cmd/test2json
	for pkg in $VM_PREBUILT; do
		CGO_ENABLED=0 go build -buildvcs=false -trimpath \
			-o "$root/opt/corral-vm/prebuilt/${pkg##*/}" "$pkg"
	done
}

# vm_go_toolchain copies a lean Go toolchain (the go command, compile, link,
# asm and the standard library's source) to the same GOROOT in the VM, for
# tests that build a program of their own at run time, with a build cache
# warmed on the host for the packages such programs import (the VM is
# emulated: compiling the runtime there would take minutes).
vm_go_toolchain() {
	local root=$1 goroot tool tmp
	goroot=$(go env GOROOT)
	log "copying a lean Go toolchain from $goroot"
	mkdir -p "$root$goroot/bin" "$root$goroot/pkg/tool/linux_amd64" "$root/root"
	cp "$goroot/bin/go" "$root$goroot/bin/"
	cp "$goroot/VERSION" "$goroot/go.env" "$root$goroot/"
	cp -r "$goroot/pkg/include" "$root$goroot/pkg/"
	for tool in compile link asm buildid; do
		[ ! -x "$goroot/pkg/tool/linux_amd64/$tool" ] ||
			cp "$goroot/pkg/tool/linux_amd64/$tool" "$root$goroot/pkg/tool/linux_amd64/"
	done
	(cd "$goroot" && find src -path src/cmd -prune -o -path '*/testdata' -prune -o \
		-type f ! -name '*_test.go' -print0 | cpio --null -pdm --quiet "$root$goroot")
	tmp=$(mktemp -d)
	printf 'module warm\n\ngo 1.21\n' >"$tmp/go.mod"
	cat >"$tmp/main.go" <<-'EOF'
		package main

		import (
			_ "bufio"
			_ "bytes"
			_ "encoding/json"
			_ "fmt"
			_ "os"
			_ "os/exec"
			_ "path/filepath"
			_ "strconv"
			_ "strings"
			_ "syscall"
			_ "time"
			_ "unsafe"
		)

		func main() {}
	EOF
	(cd "$tmp" && GOCACHE=$root/root/.cache/go-build CGO_ENABLED=0 GOWORK=off GOFLAGS='' \
		go build -trimpath -o /dev/null .)
	rm -rf "$tmp"
}

# vm_test_binaries compiles each package's tests and lists them, with their
# directory (and testdata), in /etc/vm-test/tests.
vm_test_binaries() {
	local root=$1 path dir rel name
	: >"$root/etc/vm-test/tests"
	[ -n "${VM_PACKAGES// /}" ] || return 0
	# shellcheck disable=SC2086 # a list of package patterns.
	go list -f '{{.ImportPath}} {{.Dir}}' $VM_PACKAGES >"$root/etc/vm-test/pkgs"
	while read -r path dir; do
		rel=${dir#"$REPO"/}
		name=${rel//\//_}.test
		log "building tests of $path"
		go test -c -o "$root/opt/corral-vm/tests/$name" "$path"
		if [ ! -x "$root/opt/corral-vm/tests/$name" ]; then
			log "$path has no tests; skipped"
			continue
		fi
		mkdir -p "$root/corral/$rel"
		[ ! -d "$dir/testdata" ] || cp -r "$dir/testdata" "$root/corral/$rel/"
		printf '%s %s %s\n' "$name" "vm:$path" "$rel" >>"$root/etc/vm-test/tests"
	done <"$root/etc/vm-test/pkgs"
	rm "$root/etc/vm-test/pkgs"
}

vm_host_binaries() {
	local root=$1 bin
	for bin in $VM_HOST_BINARIES; do
		if [ ! -x "$bin" ]; then
			log "$bin not installed; not copied into the VM"
			continue
		fi
		mkdir -p "$root/$(dirname "$bin")"
		# Often a busybox applet link there: replace it, never write through it.
		rm -f "$root/$bin"
		cp -L "$bin" "$root/$bin"
	done
}

# vm_libraries copies the shared libraries of every dynamic executable in
# the root, at the paths ldd names.
vm_libraries() {
	local root=$1 f lib
	while read -r f; do
		file -L "$f" | grep -q 'dynamically linked' || continue
		while read -r lib; do
			[ -e "$root/$lib" ] || cp -L "$lib" "$root/$lib"
		done < <(ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
	done < <(find "$root" -type f -perm -u+x ! -name '*.sh' ! -name init ! -name go)
}

# vm_modules copies the modules to load, with what they depend on, and
# indexes them for busybox modprobe.
vm_modules() {
	local root=$1 mod dir=$KROOT/lib/modules/$KVER rel dep
	local want=()
	for mod in $VM_MODULES; do
		rel=$(module_file "$dir" "$mod")
		if [ -z "$rel" ]; then
			grep -qE "/$mod\.ko" "$dir/modules.builtin" || log "kernel module $mod not found in $KVER"
			continue
		fi
		want+=("$mod")
		for dep in $rel $(grep "^$rel:" "$dir/modules.dep" | cut -d: -f2-); do
			mkdir -p "$root/lib/modules/$KVER/$(dirname "$dep")"
			cp "$dir/$dep" "$root/lib/modules/$KVER/$dep"
		done
	done
	cp "$dir/modules.builtin" "$dir/modules.order" "$root/lib/modules/$KVER/"
	busybox depmod -b "$root" "$KVER"
	printf '%s\n' "${want[@]}" >"$root/etc/vm-test/modules"
}

# module_file prints the path, relative to $1, of module $2's file.
module_file() {
	local dir=$1 mod=$2
	grep -oE "^([^:]*/)?($mod|${mod//_/-}|${mod//-/_})\.ko(\.[a-z]+)?:" "$dir/modules.dep" |
		head -n1 | tr -d :
}

# vm_conformance readies test/oci/conformance.sh for the VM: the script, the
# host tools it needs beyond busybox, ext4 for the disk image
# $WORK/conformance.img (the suite built by an earlier run of the script on
# this machine, 270 MB: too big for the initramfs), and /etc/vm-test/extra.sh
# that mounts it and runs the suite against corral and runc.
vm_conformance() {
	local root=$1 cache suite
	cache=${CONFORMANCE_CACHE:-${XDG_CACHE_HOME:+$XDG_CACHE_HOME/corral-conformance}}
	cache=${cache:-/var/cache/corral-conformance}
	suite=$(find "$cache" -mindepth 2 -maxdepth 2 -name .complete -printf '%T@ %h\n' 2>/dev/null |
		sort -rn | head -n1 | cut -d' ' -f2-)
	[ -n "$suite" ] || die "no built OCI validation suite in $cache: run test/oci/conformance.sh once first"
	[ "$VM_GO" = 1 ] || die "CORRAL_VM_CONFORMANCE=1 needs CORRAL_VM_GO=1 (conformance.sh runs go env)"
	log "conformance: suite $suite on a disk image"
	mkfs.ext4 -q -F -L conformance -d "$suite" "$WORK/conformance.img" \
		$(($(du -sm "$suite" | cut -f1) * 12 / 10 + 64))M
	mkdir -p "$root/corral/test/oci"
	cp -r "$REPO/test/oci/conformance.sh" "$REPO/test/oci/conformance" "$root/corral/test/oci/"
	# GNU timeout: busybox timeout would run its own unshare applet. GNU tar:
	# the programs unpack a .tar.gz with tar -xf.
	VM_HOST_BINARIES+=" /usr/bin/bash /usr/bin/find /usr/bin/unshare /usr/bin/flock /usr/bin/timeout /usr/bin/tar /usr/sbin/ip"
	VM_MODULES+=" ext4"
	cat >"$root/etc/vm-test/extra.sh" <<-EOF
		#!/bin/sh
		# Runs test/oci/conformance.sh on the suite mounted from /dev/vdb.
		mkdir -p "$suite" /run/lock && mount -t ext4 -o ro /dev/vdb "$suite" || exit 2
		CONFORMANCE_CACHE="$(dirname "$suite")" CONFORMANCE_ONLY="\${VM_CONFORMANCE_ONLY:-.}" CRUN= \\
			CONFORMANCE_OUT=/tmp/conformance /corral/test/oci/conformance.sh /bin/corral </dev/null
		rc=\$?
		# The end of the logs of each program corral fails, for the CI log.
		for v in /tmp/conformance/corral/*.verdict; do
			grep -qx -e pass -e skip "\$v" && continue
			echo "conformance: \${v%.verdict} (\$(cat "\$v")):"
			tail -n 5 "\${v%.verdict}.tap" "\${v%.verdict}.err" 2>/dev/null | sed 's/^/    /'
		done
		exit "\$rc"
	EOF
	chmod 0755 "$root/etc/vm-test/extra.sh"
}

vm_config() {
	local root=$1
	{
		printf 'VM_TEST_TIMEOUT=%q\n' "$VM_TEST_TIMEOUT"
		printf 'VM_TEST_RUN=%q\n' "${CORRAL_VM_RUN:-}"
		printf 'VM_TEST_ENV=%q\n' "${CORRAL_VM_ENV:-}"
		printf 'VM_CONFORMANCE_ONLY=%q\n' "${CORRAL_VM_CONFORMANCE_ONLY:-}"
	} >"$root/etc/vm-test/env"
}
