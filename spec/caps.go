package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/corral-dev/corral/errdefs"
)

// knownCaps are the capabilities of Linux 6.x, in kernel numbering.
var knownCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// DefaultCaps returns the capabilities a container gets without
// --cap-add, --cap-drop or --privileged: Docker's 14.
func DefaultCaps() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// KnownCaps returns every capability name this package knows, in kernel
// numbering.
func KnownCaps() []string { return slices.Clone(knownCaps) }

// normalizeCaps upper-cases names and adds the CAP_ prefix; "ALL" stays.
// An unknown name, or one the host does not offer (available, nil meaning
// all known), is an error naming the flag.
func normalizeCaps(flag string, names, available []string) ([]string, error) {
	var out []string
	for _, n := range names {
		c := strings.ToUpper(strings.TrimSpace(n))
		if c == "ALL" {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !slices.Contains(knownCaps, c) {
			return nil, errdefs.InvalidArgument(fmt.Errorf("invalid %s %q: unknown capability %q", flag, n, c))
		}
		if available != nil && !slices.Contains(available, c) {
			return nil, errdefs.InvalidArgument(fmt.Errorf(
				"invalid %s %q: capability %s is not available on this host", flag, n, c))
		}
		out = append(out, c)
	}
	return out, nil
}

// Caps computes a container's capability set as Docker does: privileged
// gets every available capability; otherwise the defaults minus capDrop
// plus capAdd, where "ALL" in capAdd means every available capability but
// those dropped, and "ALL" in capDrop means only those added. available is
// the host's set (nil: every known capability). The result has no
// duplicates and keeps the defaults' order, added ones after.
func Caps(capAdd, capDrop []string, privileged bool, available []string) ([]string, error) {
	all := knownCaps
	if available != nil {
		all = slices.DeleteFunc(slices.Clone(knownCaps), func(c string) bool {
			return !slices.Contains(available, c)
		})
	}
	add, err := normalizeCaps("--cap-add", capAdd, available)
	if err != nil {
		return nil, err
	}
	drop, err := normalizeCaps("--cap-drop", capDrop, available)
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case privileged:
		caps = slices.Clone(all)
	case slices.Contains(add, "ALL"):
		for _, c := range all {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(drop, "ALL"):
		caps = add
	default:
		for _, c := range DefaultCaps() {
			if !slices.Contains(drop, c) && (available == nil || slices.Contains(available, c)) {
				caps = append(caps, c)
			}
		}
		caps = append(caps, add...)
	}
	return dedupe(caps), nil
}

// dedupe drops repeated strings, keeping the first of each.
func dedupe(list []string) []string {
	out := list[:0:0]
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
