package cgroups

import (
	"path/filepath"
	"slices"
)

// JoinPlan says how a new process can enter the container's cgroup without
// a migration written by another process, each of which takes the kernel's
// global cgroup_threadgroup_rwsem and may wait for an RCU grace period
// (5 to 18 ms measured here):
//   - Tasks are the v1 tasks files the process writes "0" into while it is
//     single-threaded (a thread moving itself skips that lock);
//   - Unified is the v2 directory to place it in at clone time
//     (CLONE_INTO_CGROUP, which takes the lock only for reading), "" if
//     there is no unified hierarchy.
type JoinPlan struct {
	Tasks   []string
	Unified string
}

// Plan returns the JoinPlan of the container's cgroup.
func (m *Manager) Plan() JoinPlan {
	var p JoinPlan
	unified, hasUnified := m.paths[UnifiedKey]
	for _, dir := range m.dirs() {
		if hasUnified && dir == unified {
			continue
		}
		p.Tasks = append(p.Tasks, filepath.Join(dir, "tasks"))
	}
	if hasUnified && !slices.Contains(p.Tasks, filepath.Join(unified, "tasks")) {
		p.Unified = unified
	}
	return p
}
