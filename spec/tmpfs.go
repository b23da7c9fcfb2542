package spec

import (
	"slices"
	"strings"
)

// tmpfsFlagGroups maps each mount flag a tmpfs accepts to its group: of two
// options in one group (exec and noexec) the later wins.
var tmpfsFlagGroups = map[string]string{
	"ro": "ro", "rw": "ro", "suid": "suid", "nosuid": "suid", "dev": "dev", "nodev": "dev",
	"exec": "exec", "noexec": "exec", "sync": "sync", "async": "sync", "dirsync": "dirsync",
	"mand": "mand", "nomand": "mand", "atime": "atime", "noatime": "atime",
	"diratime": "diratime", "nodiratime": "diratime", "relatime": "relatime",
	"norelatime": "relatime", "strictatime": "strictatime", "nostrictatime": "strictatime",
	"private": "propagation", "rprivate": "propagation", "shared": "propagation",
	"rshared": "propagation", "slave": "propagation", "rslave": "propagation",
	"unbindable": "propagation", "runbindable": "propagation",
}

// tmpfsDataOptions are the key=value options of tmpfs; the later of two
// with the same key wins.
var tmpfsDataOptions = []string{"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"}

// tmpfsOptions merges a tmpfs mount's options over dockerd's defaults
// (noexec, nosuid, nodev, rprivate).
func tmpfsOptions(m Mount) ([]string, error) {
	opts := append([]string{"noexec", "nosuid", "nodev", "rprivate"}, m.Options...)
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	if m.Propagation != "" {
		opts = append(opts, m.Propagation)
	}
	return mergeTmpfsOptions(m.Destination, opts)
}

// mergeTmpfsOptions keeps, of options that set the same thing, the last,
// in the place of the last; "defaults" is dropped. An option tmpfs does not
// know is an error naming the mount.
func mergeTmpfsOptions(dest string, opts []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for i := len(opts) - 1; i >= 0; i-- {
		o := strings.TrimSpace(opts[i])
		if o == "defaults" || o == "" {
			continue
		}
		key, ok := tmpfsFlagGroups[o]
		if !ok {
			k, _, isData := strings.Cut(o, "=")
			if !isData || !slices.Contains(tmpfsDataOptions, k) {
				return nil, invalid("invalid --tmpfs %s: unknown option %q", dest, o)
			}
			key = "=" + k
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, o)
		}
	}
	slices.Reverse(out)
	return out, nil
}

// addOption appends o unless present.
func addOption(opts []string, o string) []string {
	if slices.Contains(opts, o) {
		return opts
	}
	return append(slices.Clone(opts), o)
}
