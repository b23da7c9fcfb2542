package nsinit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunHooksPassesState(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	h := specs.Hook{Path: writeScript(t, `cat > "$1"; echo >> "$1"; echo "$FOO" >> "$1"`), Args: []string{"hook", out}, Env: []string{"FOO=bar"}}
	st := &specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreating, Pid: 42}
	if err := RunHooks([]specs.Hook{h}, st); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	lines := strings.SplitN(string(b), "\n", 2)
	var got specs.State
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil || got.ID != "c1" || got.Pid != 42 {
		t.Fatalf("hook got state %q (%v)", lines[0], err)
	}
	if strings.TrimSpace(lines[1]) != "bar" {
		t.Fatalf("hook env: %q", lines[1])
	}
}

func TestRunHooksFailureAndTimeout(t *testing.T) {
	fail := specs.Hook{Path: writeScript(t, "echo broken >&2; exit 3")}
	err := RunHooks([]specs.Hook{fail}, &specs.State{})
	if err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("failing hook: %v", err)
	}
	one := 1
	slow := specs.Hook{Path: writeScript(t, "sleep 30"), Timeout: &one}
	err = RunHooks([]specs.Hook{slow}, &specs.State{})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("slow hook: %v", err)
	}
	zero := 0
	if err := RunHooks([]specs.Hook{{Path: "/bin/true", Timeout: &zero}}, &specs.State{}); err == nil {
		t.Fatal("zero timeout accepted")
	}
	if err := RunHooks([]specs.Hook{{Path: "/nonexistent/hook"}}, &specs.State{}); err == nil {
		t.Fatal("missing hook accepted")
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "prog")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "data"), []byte(""), 0o644)
	if p, err := lookPath("prog", []string{"PATH=/nonexistent:" + dir}); err != nil || p != exe {
		t.Fatalf("lookPath = %q, %v", p, err)
	}
	if _, err := lookPath("data", []string{"PATH=" + dir}); err == nil {
		t.Fatal("non-executable file found")
	}
	if _, err := lookPath("nope", []string{"PATH=" + dir}); err == nil || !strings.Contains(err.Error(), "not found in $PATH") {
		t.Fatalf("missing program: %v", err)
	}
	if _, err := lookPath(dir, nil); err == nil {
		t.Fatal("directory accepted as program")
	}
}

func TestParseCaps(t *testing.T) {
	if _, err := parseCaps(&specs.LinuxCapabilities{Bounding: []string{"CAP_NOPE"}}); err == nil {
		t.Fatal("unknown capability accepted")
	}
	c, err := parseCaps(&specs.LinuxCapabilities{Effective: []string{"CAP_CHOWN", "cap_kill"}})
	if err != nil || c == nil {
		t.Fatal(err)
	}
	if c2, _ := parseCaps(nil); c2 != nil {
		t.Fatal("nil capabilities must leave them untouched")
	}
}

func TestAmbientNeedsInheritable(t *testing.T) {
	c, err := parseCaps(&specs.LinuxCapabilities{
		Permitted:   []string{"CAP_KILL", "CAP_CHOWN"},
		Inheritable: []string{"CAP_CHOWN"},
		Ambient:     []string{"CAP_KILL", "CAP_CHOWN"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.warnings) != 1 || !strings.Contains(c.warnings[0], "CAP_KILL") {
		t.Fatalf("warnings %q, want one about CAP_KILL", c.warnings)
	}
}

func TestRunAllHooksGoesOn(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	fail := specs.Hook{Path: writeScript(t, "exit 1")}
	mark := specs.Hook{Path: writeScript(t, `echo ran >> "$1"`), Args: []string{"hook", out}}
	err := RunAllHooks([]specs.Hook{fail, mark, fail}, &specs.State{})
	if err == nil {
		t.Fatal("failures not reported")
	}
	if b, _ := os.ReadFile(out); string(b) != "ran\n" {
		t.Fatalf("hook after a failing one did not run: %q", b)
	}
}
