package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCgroup is a cgroup tree of regular files in a temporary directory,
// with every write of Set recorded as "dir/file=data" (dir relative to the
// tree: the v1 controller, or "v2").
type fakeCgroup struct {
	t      *testing.T
	root   string
	m      *Manager
	writes []string
	// fail makes writes to a file (base name) fail with an error, once
	// per entry; failAlways keeps failing.
	fail       map[string][]error
	failAlways map[string]error
}

// newFakeV1 makes one directory per controller with the given files.
func newFakeV1(t *testing.T, files map[string]map[string]string) *fakeCgroup {
	t.Helper()
	f := &fakeCgroup{t: t, root: t.TempDir(), fail: map[string][]error{}, failAlways: map[string]error{}}
	paths := map[string]string{}
	for ctrl, fs := range files {
		paths[ctrl] = f.mkdir(ctrl, fs)
	}
	f.m = Load(paths)
	f.m.writeHook = f.write
	return f
}

// newFakeV2 makes a v2 cgroup directory with the given files.
func newFakeV2(t *testing.T, files map[string]string) *fakeCgroup {
	t.Helper()
	f := &fakeCgroup{t: t, root: t.TempDir(), fail: map[string][]error{}, failAlways: map[string]error{}}
	f.m = Load(map[string]string{UnifiedKey: f.mkdir("v2", files)})
	f.m.writeHook = f.write
	return f
}

func (f *fakeCgroup) mkdir(name string, files map[string]string) string {
	dir := filepath.Join(f.root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	for file, content := range files {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
	return dir
}

func (f *fakeCgroup) write(path, data string) error {
	rel, _ := filepath.Rel(f.root, path)
	base := filepath.Base(path)
	if errs := f.fail[base]; len(errs) > 0 {
		f.fail[base] = errs[1:]
		f.writes = append(f.writes, rel+"="+data+" (failed)")
		return &os.PathError{Op: "write", Path: path, Err: errs[0]}
	}
	if err := f.failAlways[base]; err != nil {
		f.writes = append(f.writes, rel+"="+data+" (failed)")
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	f.writes = append(f.writes, rel+"="+data)
	if _, err := os.Stat(path); err != nil {
		return err // like cgroupfs: no file, no setting
	}
	return os.WriteFile(path, []byte(data), 0o644)
}

// checkWrites compares the recorded writes with want, in order.
func (f *fakeCgroup) checkWrites(want ...string) {
	f.t.Helper()
	if strings.Join(f.writes, "\n") != strings.Join(want, "\n") {
		f.t.Errorf("writes:\n  %s\nwant:\n  %s", strings.Join(f.writes, "\n  "), strings.Join(want, "\n  "))
	}
}

// wantErr checks err is a *LimitError whose text contains every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T), want a *LimitError", err, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }
func boolp(v bool) *bool   { return &v }
