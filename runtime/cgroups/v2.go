package cgroups

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// enableControllers makes the controllers of a cgroup v2 hierarchy
// available to dir: from the hierarchy's root down to dir's parent, it
// writes "+name" into each level's cgroup.subtree_control for every
// controller that level has and does not yet pass on. As in runc, failures
// are ignored (a level with processes of its own cannot pass domain
// controllers on): a limit that needs a missing controller fails later, in
// Set, with an error naming it.
func enableControllers(root, dir string, write func(path, data string) error) {
	var chain []string
	for d := filepath.Dir(dir); strings.HasPrefix(d, root); d = filepath.Dir(d) {
		chain = append(chain, d)
		if d == root || d == "/" {
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		avail, err := os.ReadFile(filepath.Join(chain[i], "cgroup.controllers"))
		if err != nil {
			return
		}
		on, _ := os.ReadFile(filepath.Join(chain[i], "cgroup.subtree_control"))
		for _, c := range strings.Fields(string(avail)) {
			if !slices.Contains(strings.Fields(string(on)), c) {
				_ = write(filepath.Join(chain[i], "cgroup.subtree_control"), "+"+c)
			}
		}
	}
}

// mountRoot returns the root of the mount that holds dir, found by walking
// up until the device changes.
func mountRoot(dir string) string {
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if root, err := isMountRoot(d); err == nil && root {
			return d
		}
	}
	return "/"
}
