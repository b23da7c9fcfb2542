package cgroups

import (
	"slices"
	"testing"
)

func TestPlan(t *testing.T) {
	m := Load(map[string]string{
		"cpu": "/sys/fs/cgroup/cpu,cpuacct/c1", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/c1",
		"pids": "/sys/fs/cgroup/pids/c1", UnifiedKey: "/sys/fs/cgroup/unified/c1",
	})
	p := m.Plan()
	want := []string{"/sys/fs/cgroup/cpu,cpuacct/c1/tasks", "/sys/fs/cgroup/pids/c1/tasks"}
	if !slices.Equal(p.Tasks, want) || p.Unified != "/sys/fs/cgroup/unified/c1" {
		t.Fatalf("plan %+v, want tasks %v and the unified dir", p, want)
	}
	if p := Load(map[string]string{UnifiedKey: "/sys/fs/cgroup/c1"}).Plan(); len(p.Tasks) != 0 || p.Unified != "/sys/fs/cgroup/c1" {
		t.Fatalf("pure v2 plan %+v", p)
	}
}
