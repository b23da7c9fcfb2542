package runtime

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/corral-dev/corral/testutil"
)

func TestExampleSpecRoundTrip(t *testing.T) {
	data, err := json.Marshal(ExampleSpec())
	if err != nil {
		t.Fatalf("marshal example spec: %v", err)
	}
	var got specs.Spec
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("unmarshal example spec: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ociVersion", got.Version, specs.Version},
		{"hostname", got.Hostname, "corral"},
		{"root.path", got.Root.Path, "rootfs"},
		{"root.readonly", got.Root.Readonly, true},
		{"process.terminal", got.Process.Terminal, true},
		{"process.args[0]", got.Process.Args[0], "sh"},
		{"process.cwd", got.Process.Cwd, "/"},
		{"process.noNewPrivileges", got.Process.NoNewPrivileges, true},
		{"rlimit type", got.Process.Rlimits[0].Type, "RLIMIT_NOFILE"},
		{"rlimit soft", got.Process.Rlimits[0].Soft, uint64(1024)},
		{"mounts", len(got.Mounts), 7},
		{"first mount", got.Mounts[0].Destination, "/proc"},
		{"namespaces", len(got.Linux.Namespaces), map[bool]int{true: 6, false: 5}[unifiedOnly()]},
		{"bounding caps", len(got.Process.Capabilities.Bounding), 3},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestExampleSpecFresh(t *testing.T) {
	a, b := ExampleSpec(), ExampleSpec()
	a.Process.Capabilities.Bounding[0] = "CAP_SYS_ADMIN"
	a.Mounts[0].Destination = "/elsewhere"
	if b.Process.Capabilities.Bounding[0] != "CAP_AUDIT_WRITE" || b.Mounts[0].Destination != "/proc" {
		t.Fatal("ExampleSpec shares state between calls")
	}
	if a.Process.Capabilities.Effective[0] != "CAP_AUDIT_WRITE" {
		t.Fatal("capability sets share one backing array")
	}
}

// TestExampleSpecMatchesBundle keeps testutil's copy of the example spec,
// which NewBundle hands out, equal to ExampleSpec.
func TestExampleSpecMatchesBundle(t *testing.T) {
	_, got := testutil.NewBundle(t)
	want := ExampleSpec()
	want.Process.Terminal = false
	want.Process.Args = []string{"true"}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Fatalf("testutil.NewBundle spec differs from ExampleSpec:\n%s\n%s", a, b)
	}
}
