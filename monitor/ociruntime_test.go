package monitor

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/runtime"
)

// TestClassify: the runtime's error classes, which reach the monitor only
// as text, keep their class for the client.
func TestClassify(t *testing.T) {
	tests := []struct {
		cause error
		class func(error) bool
	}{
		{runtime.ErrNotExist, errdefs.IsConflict},
		{runtime.ErrBadState, errdefs.IsConflict},
		{runtime.ErrBadConfig, errdefs.IsInvalidArgument},
		{errors.New("container not running"), errdefs.IsConflict}, // runc
		{errors.New("no space left on device"), nil},
	}
	for _, tt := range tests {
		err := classify(errors.New("runtime start: id: " + tt.cause.Error()))
		if !strings.Contains(err.Error(), tt.cause.Error()) {
			t.Errorf("classify(%q) lost the message: %q", tt.cause, err)
		}
		if tt.class == nil {
			if errdefs.IsConflict(err) || errdefs.IsInvalidArgument(err) {
				t.Errorf("classify(%q) = %v, want no class", tt.cause, err)
			}
		} else if !tt.class(err) {
			t.Errorf("classify(%q) = %v, wrong class", tt.cause, err)
		}
	}
	if !isNotExist(classify(errors.New("runtime delete: " + runtime.ErrNotExist.Error()))) {
		t.Error("isNotExist does not know the runtime's ErrNotExist")
	}
}

// TestFindPrograms: corral-monitor and corral-runc are used from beside
// the corral binary when they are there (and executable files); without
// corral-runc the runtime is the corral binary's own command, without
// corral-monitor there is no monitor.
func TestFindPrograms(t *testing.T) {
	dir := t.TempDir()
	corral := filepath.Join(dir, "corral")
	touch(t, corral, 0o755)
	if got := runtimeArgv(corral); !slices.Equal(got, []string{corral, "runtime"}) {
		t.Errorf("runtime without corral-runc = %q", got)
	}
	if got, err := monitorProgramOf(corral); err == nil || !strings.Contains(err.Error(), "build.sh") {
		t.Errorf("monitor without corral-monitor = %q, %v", got, err)
	}
	touch(t, filepath.Join(dir, runtimeProgram), 0o644) // not executable
	if err := os.Mkdir(filepath.Join(dir, monitorProgram), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := runtimeArgv(corral); got[0] != corral {
		t.Errorf("a corral-runc that is not executable was taken: %q", got)
	}
	if got, err := monitorProgramOf(corral); err == nil {
		t.Errorf("a directory named corral-monitor was taken: %q", got)
	}
	os.Remove(filepath.Join(dir, monitorProgram))
	touch(t, filepath.Join(dir, monitorProgram), 0o755)
	os.Chmod(filepath.Join(dir, runtimeProgram), 0o755)
	if got := runtimeArgv(corral); !slices.Equal(got, []string{filepath.Join(dir, runtimeProgram)}) {
		t.Errorf("runtime = %q, want corral-runc", got)
	}
	mon := filepath.Join(dir, monitorProgram)
	if got, err := monitorProgramOf(corral); got != mon || err != nil {
		t.Errorf("monitor = %q, %v, want %s", got, err, mon)
	}
	if got, err := monitorProgramOf(mon); got != mon || err != nil {
		t.Errorf("monitor of corral-monitor itself = %q, %v", got, err)
	}
}

// TestRuntimeCommand: runc's global flags come first, then the command.
func TestRuntimeCommand(t *testing.T) {
	r := &ociRuntime{argv: []string{"/bin/corral", "runtime"}, root: "/run/x", log: "/m/runtime.log"}
	want := []string{"/bin/corral", "runtime", "--root", "/run/x", "--log", "/m/runtime.log",
		"--log-format", "json", "kill", "--all", "c1", "9"}
	args := append([]string{"kill", "--all"}, "c1", "9")
	if got := r.command(args...).Args; !slices.Equal(got, want) {
		t.Errorf("command = %q, want %q", got, want)
	}
	r.root, r.log = "", ""
	if got := r.command("start", "c1").Args; !slices.Equal(got, []string{"/bin/corral", "runtime", "start", "c1"}) {
		t.Errorf("command without root and log = %q", got)
	}
}

// TestRuntimeErrors: a failed command's error is the runtime's message,
// from its log (the last error it wrote there this time) or else its
// stderr, with its class.
func TestRuntimeErrors(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "fake-runc")
	// Logs an old error first, as an earlier command would have.
	writeFile(t, script, `#!/bin/sh
while [ $# -gt 0 ]; do
	case $1 in --log) log=$2; shift ;; esac
	shift
done
case $MODE in
log) echo '{"level":"warning","msg":"ignored"}' >>"$log"
     echo '{"level":"error","msg":"container is in the wrong state: it is stopped"}' >>"$log" ;;
stderr) echo "corral: invalid configuration: no args" >&2 ;;
esac
exit 1
`, 0o755)
	log := filepath.Join(dir, "runtime.log")
	writeFile(t, log, `{"level":"error","msg":"an old error"}`+"\n", 0o644)
	r := &ociRuntime{argv: []string{script}, log: log}

	r.env = []string{"MODE=log"}
	err := r.run("start", "c1")
	if err == nil || !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "runtime start: container is in the wrong state: it is stopped") {
		t.Errorf("error from the log = %v", err)
	}
	r.env = []string{"MODE=stderr"}
	err = r.run("update", "c1")
	if err == nil || !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "runtime update: invalid configuration: no args") ||
		strings.Contains(err.Error(), "corral:") {
		t.Errorf("error from stderr = %v", err)
	}
	r.env = nil
	if err := r.run("ps", "c1"); err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("error without a message = %v", err)
	}
	r.argv = []string{filepath.Join(dir, "missing")}
	if err := r.run("start", "c1"); err == nil || !strings.Contains(err.Error(), "runtime start") {
		t.Errorf("error of a missing runtime = %v", err)
	}
}

func touch(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	writeFile(t, path, "", mode)
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
