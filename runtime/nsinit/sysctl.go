package nsinit

import (
	"fmt"
	"os"
	"sort"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ipcSysctls are the kernel.* sysctls that belong to the IPC namespace.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true,
	"kernel.sem": true, "kernel.shmall": true, "kernel.shmmax": true,
	"kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// writeSysctls applies linux.sysctl, in key order. Every file is opened on
// a procfs instance of init's own (not through the container's /proc,
// which the image or a mount could fake), looked up with openat2
// RESOLVE_NO_XDEV|RESOLVE_NO_MAGICLINKS so that no mount and no symlink on
// the way is followed, reopened for writing and checked to be that same
// file of a procfs before it is written (CVE-2025-52881).
func writeSysctls(spec *specs.Spec) error {
	keys := make([]string, 0, len(spec.Linux.Sysctl))
	for k := range spec.Linux.Sysctl {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	proc, err := procfs.OpenUnsafeProcRoot()
	if err != nil {
		return fmt.Errorf("open procfs for sysctls: %w", err)
	}
	defer proc.Close()
	for _, k := range keys {
		if err := writeSysctl(proc, spec, k, spec.Linux.Sysctl[k]); err != nil {
			return fmt.Errorf("sysctl %s=%q: %w", k, spec.Linux.Sysctl[k], err)
		}
	}
	return nil
}

func writeSysctl(proc *procfs.Handle, spec *specs.Spec, key, value string) error {
	rel, dotted, err := sysctlPath(key)
	if err != nil {
		return err
	}
	if err := checkSysctlNamespace(spec, dotted); err != nil {
		return err
	}
	h, err := proc.OpenRoot("sys/" + rel)
	if err != nil {
		return fmt.Errorf("open /proc/sys/%s: %w", rel, err)
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open /proc/sys/%s for writing: %w", rel, err)
	}
	defer f.Close()
	if err := checkOnProcfs(f); err != nil {
		return err
	}
	if err := checkSameMount(h, f); err != nil {
		return err
	}
	if _, err := f.WriteString(value); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// checkOnProcfs fails unless f is a file of a procfs.
func checkOnProcfs(f *os.File) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("file is not on a procfs (filesystem type %#x)", st.Type)
	}
	return nil
}

// checkSameMount fails unless the file opened for writing lies on the mount
// where the lookup found it: the reopen through a magic link must not have
// been redirected by a mount over the link.
func checkSameMount(want, got *os.File) error {
	var a, b unix.Statx_t
	flags := unix.AT_EMPTY_PATH | unix.AT_SYMLINK_NOFOLLOW
	if err := unix.Statx(int(want.Fd()), "", flags, unix.STATX_MNT_ID, &a); err != nil {
		return fmt.Errorf("statx: %w", err)
	}
	if err := unix.Statx(int(got.Fd()), "", flags, unix.STATX_MNT_ID, &b); err != nil {
		return fmt.Errorf("statx: %w", err)
	}
	if a.Mnt_id != b.Mnt_id || a.Ino != b.Ino {
		return fmt.Errorf("reopened file is not the one looked up (mount %d, inode %d; want %d, %d)", b.Mnt_id, b.Ino, a.Mnt_id, a.Ino)
	}
	return nil
}

// sysctlPath turns a key into its path under /proc/sys and its dotted name.
// As in sysctl(8), a key whose first separator is "/" uses "/" between
// components and keeps dots inside them ("net/ipv4/conf/eth0.100/forwarding");
// otherwise dots separate components and slashes stand for dots in them.
// Empty, "." and ".." components are refused.
func sysctlPath(key string) (rel, dotted string, err error) {
	rel = key
	if i := strings.IndexAny(key, "./"); i < 0 || key[i] == '.' {
		rel = strings.Map(swapDotSlash, key)
	}
	for _, p := range strings.Split(rel, "/") {
		if p == "" || p == "." || p == ".." || strings.ContainsRune(p, 0) {
			return "", "", fmt.Errorf("invalid sysctl name %q", key)
		}
	}
	return rel, strings.Map(swapDotSlash, rel), nil
}

func swapDotSlash(r rune) rune {
	switch r {
	case '.':
		return '/'
	case '/':
		return '.'
	}
	return r
}

// checkSysctlNamespace refuses a sysctl that is not isolated by one of the
// container's own namespaces: writing it would change the host.
func checkSysctlNamespace(spec *specs.Spec, name string) error {
	has := func(t specs.LinuxNamespaceType) bool { return hasNamespace(spec, t) }
	switch {
	case ipcSysctls[name] || strings.HasPrefix(name, "fs.mqueue."):
		if has(specs.IPCNamespace) {
			return nil
		}
		return fmt.Errorf("%s needs an ipc namespace of the container's own", name)
	case strings.HasPrefix(name, "net."):
		if has(specs.NetworkNamespace) {
			return nil
		}
		return fmt.Errorf("%s needs a network namespace of the container's own", name)
	case name == "kernel.domainname" && has(specs.UTSNamespace):
		return nil
	case name == "kernel.hostname":
		return fmt.Errorf("%s: set the hostname field instead", name)
	case strings.HasPrefix(name, "user.") && has(specs.UserNamespace):
		return nil
	}
	return fmt.Errorf("%s is not isolated by any namespace of the container", name)
}
