package daemon

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/testutil"
)

func newDaemon(t *testing.T, root string) *Daemon {
	t.Helper()
	testutil.RequireRoot(t)
	d, err := New(context.Background(), Config{DataRoot: root, PIDFile: filepath.Join(t.TempDir(), "corral.pid"),
		InsecureRegistries: []string{"reg.lan:5000", "10.0.0.0/8"}, Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDaemonOwnsDataRoot(t *testing.T) {
	root := t.TempDir()
	d := newDaemon(t, root)
	pid, err := os.ReadFile(d.pidFile.path)
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("pid file: %q %v", pid, err)
	}
	_, err = New(context.Background(), Config{DataRoot: root, PIDFile: filepath.Join(t.TempDir(), "other.pid")})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "is in use by another daemon (pid "+strconv.Itoa(os.Getpid())+")") {
		t.Errorf("second daemon on the data root: %v", err)
	}
	if _, err := os.Stat(d.pidFile.path); err != nil {
		t.Errorf("a refused daemon removed the pid file: %v", err)
	}
	id := d.id
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.pidFile.path); !os.IsNotExist(err) {
		t.Errorf("pid file left after Close: %v", err)
	}
	d2 := newDaemon(t, root)
	defer d2.Close()
	if d2.id != id || id == "" {
		t.Errorf("engine ID changed across restarts: %q → %q", id, d2.id)
	}
}

func TestPIDFileOfALiveDaemon(t *testing.T) {
	testutil.RequireRoot(t)
	path := filepath.Join(t.TempDir(), "corral.pid")
	// A pid file naming a live process of this binary (this test, under
	// another pid: the parent of the sandbox runs the same binary)...
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getppid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := writePIDFile(path); !errdefs.IsConflict(err) {
		t.Errorf("pid file of a live daemon: %v", err)
	}
	// ...but not one naming a dead process or another program.
	for _, stale := range []string{"999999999", "1", "garbage"} {
		if err := os.WriteFile(path, []byte(stale), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := writePIDFile(path)
		if err != nil {
			t.Errorf("stale pid file %q: %v", stale, err)
			continue
		}
		if err := p.remove(); err != nil {
			t.Error(err)
		}
	}
}

func TestInfo(t *testing.T) {
	root := t.TempDir()
	d := newDaemon(t, root)
	defer d.Close()
	importImage(t, d.Images(), "app:1", "x")
	info, err := d.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Images != 1 || info.Containers != 0 || info.DockerRootDir != root || info.ServerVersion != "1.2.3" ||
		info.Driver != "overlayfs" || info.NCPU != runtime.NumCPU() || info.MemTotal <= 0 || info.KernelVersion == "" ||
		info.OperatingSystem == "" || info.CgroupDriver != "cgroupfs" || info.DefaultRuntime != "corral" ||
		!info.LiveRestoreEnabled || info.ID == "" || info.OSType != "linux" || info.Architecture == "" {
		t.Errorf("info: %+v", info)
	}
	if info.CgroupVersion != "1" && info.CgroupVersion != "2" {
		t.Errorf("cgroup version %q", info.CgroupVersion)
	}
	if _, ok := info.Runtimes["corral"]; !ok || strings.Join(info.SecurityOptions, ",") != "name=seccomp,profile=builtin" {
		t.Errorf("runtimes %v, security options %v", info.Runtimes, info.SecurityOptions)
	}
	rc := info.RegistryConfig
	if rc == nil || len(rc.InsecureRegistryCIDRs) != 3 || rc.IndexConfigs["reg.lan:5000"] == nil ||
		rc.IndexConfigs["reg.lan:5000"].Secure || !rc.IndexConfigs["docker.io"].Secure {
		t.Errorf("registry config: %+v", rc)
	}
}

// TestImageEvents checks the events of the image verbs, as dockerd names
// them.
func TestImageEvents(t *testing.T) {
	d := newDaemon(t, t.TempDir())
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := d.Events(ctx, api.EventsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	i := d.Images()
	id := importImage(t, i, "", "x")
	if err := i.ImageTag(ctx, id, "app"); err != nil {
		t.Fatal(err)
	}
	rc, err := i.ImageSave(ctx, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	if _, err := i.ImageRemove(ctx, "app", api.ImageRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	dangling := importImage(t, i, "", "y")
	if _, err := i.ImagesPrune(ctx, api.NewFilters("dangling", "true")); err != nil {
		t.Fatal(err)
	}
	cancel()
	got, _ := collect(ch, 5*time.Second)
	want := []string{"image import " + id, "image tag " + id, "image save " + id, "image untag " + id, "image delete " + id,
		"image import " + dangling, "image delete " + dangling, "image prune "}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	past, _ := d.Events(context.Background(), api.EventsOptions{Since: time.Unix(0, 0), Until: time.Now(),
		Filters: api.NewFilters("event", "tag", "image", "app")})
	if got, closed := collect(past, 5*time.Second); strings.Join(got, ",") != "image tag "+id || !closed {
		t.Errorf("past tag events of app: %v", got)
	}
}
