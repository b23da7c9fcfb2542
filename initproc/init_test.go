package initproc

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestExitCode(t *testing.T) {
	// Wait statuses as the kernel encodes them: exit code in bits 8-15,
	// terminating signal in bits 0-6 (bit 7: core dumped).
	tests := []struct {
		ws   syscall.WaitStatus
		want int
	}{
		{0, 0},
		{7 << 8, 7},
		{255 << 8, 255},
		{syscall.WaitStatus(syscall.SIGTERM), 143},
		{syscall.WaitStatus(syscall.SIGKILL), 137},
		{syscall.WaitStatus(syscall.SIGQUIT) | 0x80, 131},
	}
	for _, tt := range tests {
		if got := exitCode(tt.ws); got != tt.want {
			t.Errorf("exitCode(%#x) = %d, want %d", uint32(tt.ws), got, tt.want)
		}
	}
}

func TestForwarded(t *testing.T) {
	for _, s := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP,
		syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT,
		syscall.SIGTSTP, syscall.SIGPIPE, syscall.SIGABRT, syscall.SIGSYS, 35, 64} {
		if !forwarded(s) {
			t.Errorf("%v (%d) not forwarded", s, int(s))
		}
	}
	for _, s := range []syscall.Signal{0, syscall.SIGCHLD, syscall.SIGURG, syscall.SIGTTIN, syscall.SIGTTOU} {
		if forwarded(s) {
			t.Errorf("%v (%d) forwarded", s, int(s))
		}
	}
}

func TestExecError(t *testing.T) {
	tests := []struct {
		err  error
		code int
		msg  string
	}{
		{syscall.ENOENT, 127, "exec prog: no such file or directory"},
		{syscall.ENOTDIR, 127, "exec prog: not a directory"},
		{errNotInPath, 127, "exec prog: executable file not found in $PATH"},
		{syscall.EACCES, 126, "exec prog: permission denied"},
		{syscall.ENOEXEC, 126, "exec prog: exec format error"},
		{syscall.E2BIG, 126, "exec prog: argument list too long"},
	}
	for _, tt := range tests {
		e := execError("prog", tt.err)
		if e.Code != tt.code || e.Error() != tt.msg || !errors.Is(e, tt.err) {
			t.Errorf("execError(%v) = %d %q, want %d %q", tt.err, e.Code, e.Error(), tt.code, tt.msg)
		}
	}
}

func TestPathOf(t *testing.T) {
	if got := pathOf([]string{"HOME=/", "PATH=/a:/b", "PATHX=/c"}); got != "/a:/b" {
		t.Errorf("pathOf = %q", got)
	}
	if got := pathOf([]string{"PATH=/a", "PATH=/b"}); got != "/b" {
		t.Errorf("pathOf with two PATHs = %q, want the last one, as getenv in Go", got)
	}
	if got := pathOf([]string{"HOME=/"}); got != DefaultPath {
		t.Errorf("pathOf without PATH = %q", got)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, mode os.FileMode) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exe := write("b/prog", 0o755)
	write("a/prog", 0o644)                                // found first but not executable: skipped
	write("a/onlyplain", 0o644)                           // nowhere executable: EACCES
	_ = os.Mkdir(filepath.Join(dir, "a", "isdir"), 0o755) // a directory: skipped
	write("c/isdir", 0o755)
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	tests := []struct {
		file, path, want string
		err              error
	}{
		{"prog", a + ":" + b, exe, nil},
		{"prog", "/nonexistent:" + b + ":" + a, exe, nil},
		{"isdir", a + ":" + c, filepath.Join(c, "isdir"), nil},
		{"onlyplain", a + ":" + b, "", syscall.EACCES},
		{"isdir", a, "", syscall.EACCES},
		{"missing", a + ":" + b, "", errNotInPath},
		{"prog", "", "", errNotInPath},
		{"./rel", a, "./rel", nil},   // a slash: used as it is
		{"/abs/x", a, "/abs/x", nil}, // even when it does not exist (execve says)
	}
	for _, tt := range tests {
		got, err := lookPath(tt.file, tt.path)
		if got != tt.want || err != tt.err {
			t.Errorf("lookPath(%q, %q) = %q, %v; want %q, %v", tt.file, tt.path, got, err, tt.want, tt.err)
		}
	}
}

func TestLookPathEmptyEntryIsCwd(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "here"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if got, err := lookPath("here", "/nonexistent::/bin"); got != "./here" || err != nil {
		t.Errorf("lookPath with an empty PATH entry = %q, %v; want ./here", got, err)
	}
}
