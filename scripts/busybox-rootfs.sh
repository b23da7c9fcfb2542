#!/usr/bin/env bash
# busybox-rootfs.sh: make a minimal busybox root filesystem, or a whole OCI
# bundle around one, from Debian's busybox-static.
#
#   busybox-rootfs.sh DIR
#       DIR becomes a rootfs: /bin/busybox, a symlink per applet (what
#       `busybox --install -s` would make), /etc/passwd, /etc/group and
#       empty /proc /sys /dev /tmp /root.
#   busybox-rootfs.sh --bundle DIR [-- ARG...]
#       DIR/rootfs as above, plus DIR/config.json written by
#       `$SPEC_RUNTIME spec` (default: "corral runtime"; "runc" works too)
#       with process.terminal=false and process.args=ARG... (default: sh).
#
# Environment: BUSYBOX (default /bin/busybox) is the static binary to copy.
# Idempotent: running it again over the same DIR refreshes it in place.
set -euo pipefail

usage() {
	echo "usage: $0 [--bundle] DIR [-- ARG...]" >&2
	exit 2
}

die() { printf 'busybox-rootfs.sh: %s\n' "$*" >&2; exit 1; }

# check_target refuses a DIR whose writes could land on the host: the host's
# root itself, or a rootfs whose directories are symlinks (an absolute link
# like bin -> /usr/bin would be followed on the host, not inside DIR).
check_target() {
	local dir=$1 sub
	[ "$(realpath -m "$dir")" != / ] || die "refusing to write into /"
	for sub in bin sbin usr usr/bin usr/sbin etc; do
		[ ! -L "$dir/$sub" ] || die "$dir/$sub is a symlink; use an empty directory"
	done
}

make_rootfs() {
	local dir=$1 busybox=${BUSYBOX:-/bin/busybox} applet
	[ -x "$busybox" ] || die "$busybox not found: install Debian's busybox-static"
	if command -v file >/dev/null; then
		file -L "$busybox" | grep -q 'statically linked' ||
			die "$busybox is not statically linked"
	fi
	mkdir -p "$dir"
	check_target "$dir"
	install -d -m 0755 "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,root}
	install -d -m 1777 "$dir/tmp"
	install -m 0755 "$busybox" "$dir/bin/busybox"
	# --list-full prints each applet's install path relative to /, e.g. usr/bin/awk.
	while read -r applet; do
		case $applet in
		"" | bin/busybox) continue ;;
		esac
		mkdir -p "$dir/$(dirname "$applet")"
		ln -sfn /bin/busybox "$dir/$applet"
	done < <("$dir/bin/busybox" --list-full)
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$dir/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$dir/etc/group"
	chmod 0644 "$dir/etc/passwd" "$dir/etc/group"
}

# make_config writes DIR/config.json for DIR/rootfs with the given args.
make_config() {
	local dir=$1
	shift
	local spec_runtime=${SPEC_RUNTIME:-corral runtime}
	command -v jq >/dev/null || die "jq not found"
	rm -f "$dir/config.json"
	# shellcheck disable=SC2086 # SPEC_RUNTIME is a command and its arguments.
	(cd "$dir" && $spec_runtime spec) || die "'$spec_runtime spec' failed in $dir"
	[ -s "$dir/config.json" ] || die "'$spec_runtime spec' wrote no $dir/config.json"
	# Each arg goes in as --arg aN VALUE: jq would parse a positional "-c"
	# given after --args as its own option.
	local jqargs=() i=0 arg
	for arg in "$@"; do
		jqargs+=(--arg "a$i" "$arg")
		i=$((i + 1))
	done
	jq --argjson n "$i" "${jqargs[@]}" \
		'.process.terminal = false | .process.args = [range(0; $n) as $i | $ARGS.named["a\($i)"]]' \
		<"$dir/config.json" >"$dir/config.json.tmp"
	mv "$dir/config.json.tmp" "$dir/config.json"
}

main() {
	local bundle=false dir
	if [ "${1:-}" = --bundle ] || [ "${1:-}" = -b ]; then
		bundle=true
		shift
	fi
	[ $# -ge 1 ] || usage
	dir=$1
	shift
	if [ $# -gt 0 ]; then
		[ "$1" = -- ] || usage
		shift
	fi
	[ $# -gt 0 ] || set -- sh
	if ! $bundle; then
		make_rootfs "$dir"
		return
	fi
	mkdir -p "$dir"
	make_rootfs "$dir/rootfs"
	make_config "$dir" "$@"
}

main "$@"
