package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/apiserver"
	"github.com/corral-dev/corral/errdefs"
)

// manageFake is the Containers, ContainerViews and ContainerAdmin backends
// of an apiserver: it records each call as a line. The container "nope"
// does not exist; "stopped" answers 304 to stop and restart.
type manageFake struct {
	mu    sync.Mutex
	calls []string
}

func (f *manageFake) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *manageFake) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return ""
	}
	return f.calls[len(f.calls)-1]
}

func (f *manageFake) check(name string) error {
	switch name {
	case "nope":
		return errdefs.NotFound(errors.New("No such container: nope"))
	case "stopped":
		return errdefs.Wrap(errdefs.ErrNotModified, errors.New("container already stopped"))
	}
	return nil
}

func timeout(t *int) string {
	if t == nil {
		return "nil"
	}
	return fmt.Sprint(*t)
}

func (f *manageFake) ContainerCreate(context.Context, api.ContainerCreateOptions) (container.CreateResponse, error) {
	return container.CreateResponse{}, errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("create"))
}

func (f *manageFake) ContainerStart(context.Context, string) error { return nil }

func (f *manageFake) ContainerStop(_ context.Context, name string, o api.ContainerStopOptions) error {
	f.record("stop %s signal=%s t=%s", name, o.Signal, timeout(o.Timeout))
	return f.check(name)
}

func (f *manageFake) ContainerRestart(_ context.Context, name string, o api.ContainerStopOptions) error {
	f.record("restart %s signal=%s t=%s", name, o.Signal, timeout(o.Timeout))
	return f.check(name)
}

func (f *manageFake) ContainerKill(_ context.Context, name, signal string) error {
	f.record("kill %s %s", name, signal)
	return f.check(name)
}

func (f *manageFake) ContainerRemove(_ context.Context, name string, o api.ContainerRemoveOptions) error {
	f.record("rm %s force=%v v=%v link=%v", name, o.Force, o.RemoveVolumes, o.RemoveLinks)
	return f.check(name)
}

func (f *manageFake) ContainerWait(context.Context, string, container.WaitCondition) (<-chan container.WaitResponse, error) {
	return nil, errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("wait"))
}

func (f *manageFake) ContainerPause(_ context.Context, name string) error {
	f.record("pause %s", name)
	return f.check(name)
}

func (f *manageFake) ContainerUnpause(_ context.Context, name string) error {
	f.record("unpause %s", name)
	return f.check(name)
}

func (f *manageFake) ContainerList(_ context.Context, o api.ContainerListOptions) ([]container.Summary, error) {
	f.record("list all=%v limit=%d size=%v %s", o.All, o.Limit, o.Size, js(o.Filters))
	return []container.Summary{{ID: "abc", Names: []string{"/web"}, State: container.StateRunning}}, nil
}

func (f *manageFake) ContainerInspect(_ context.Context, name string, size bool) (container.InspectResponse, error) {
	f.record("inspect %s size=%v", name, size)
	if err := f.check(name); err != nil {
		return container.InspectResponse{}, err
	}
	return container.InspectResponse{ID: "abc", Name: "/" + name}, nil
}

func (f *manageFake) ContainerTop(_ context.Context, name, psArgs string) (container.TopResponse, error) {
	f.record("top %s %q", name, psArgs)
	return container.TopResponse{Titles: []string{"PID"}, Processes: [][]string{{"1"}}}, f.check(name)
}

func (f *manageFake) ContainerChanges(context.Context, string) ([]container.FilesystemChange, error) {
	return nil, nil
}

func (f *manageFake) ContainerStats(ctx context.Context, name string, o api.ContainerStatsOptions) (<-chan container.StatsResponse, error) {
	f.record("stats %s stream=%v oneshot=%v", name, o.Stream, o.OneShot)
	if err := f.check(name); err != nil {
		return nil, err
	}
	ch := make(chan container.StatsResponse)
	go func() {
		defer close(ch)
		for i := uint64(1); i <= 3; i++ {
			select {
			case ch <- container.StatsResponse{ID: "abc", Name: "/" + name, PidsStats: container.PidsStats{Current: i}}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

func (f *manageFake) ContainerLogs(context.Context, string, api.ContainerLogsOptions) (<-chan api.LogMessage, bool, error) {
	return nil, false, errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("logs"))
}

func (f *manageFake) ContainerRename(_ context.Context, name, newName string) error {
	f.record("rename %s %s", name, newName)
	return f.check(name)
}

func (f *manageFake) ContainerUpdate(_ context.Context, name string, u container.UpdateConfig) (container.UpdateResponse, error) {
	f.record("update %s %s", name, js(u))
	return container.UpdateResponse{Warnings: []string{"careful"}}, f.check(name)
}

func (f *manageFake) ContainersPrune(_ context.Context, filters api.Filters) (container.PruneReport, error) {
	f.record("prune %s", js(filters))
	return container.PruneReport{ContainersDeleted: []string{"abc"}, SpaceReclaimed: 42}, nil
}

func (f *manageFake) ContainerCommit(context.Context, api.ContainerCommitOptions) (string, error) {
	return "", errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("commit"))
}

// serveManage runs an API server with f as its container backends.
func serveManage(t *testing.T, f *manageFake) *Client {
	t.Helper()
	srv := apiserver.New(apiserver.Config{Containers: f, ContainerViews: f, ContainerAdmin: f, Version: "9.9"})
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "api.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, l)
	}()
	c, err := New("unix://" + l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	return c
}

// TestContainerCalls checks that every call reaches the backend with its
// arguments, through the real API server.
func TestContainerCalls(t *testing.T) {
	t.Parallel()
	f := &manageFake{}
	c := serveManage(t, f)
	ctx := context.Background()
	five := 5
	calls := []struct {
		call func() error
		want string
	}{
		{func() error {
			l, err := c.ContainerList(ctx, api.ContainerListOptions{All: true, Limit: 3, Size: true, Filters: api.NewFilters("status", "exited")})
			if err == nil && (len(l) != 1 || l[0].Names[0] != "/web") {
				err = fmt.Errorf("list answered %+v", l)
			}
			return err
		}, `list all=true limit=3 size=true {"status":{"exited":true}}`},
		{func() error { _, err := c.ContainerList(ctx, api.ContainerListOptions{Limit: -1}); return err }, "list all=false limit=-1 size=false {}"},
		{func() error { return c.ContainerStop(ctx, "web", api.ContainerStopOptions{}) }, "stop web signal= t=nil"},
		{func() error {
			return c.ContainerStop(ctx, "web", api.ContainerStopOptions{Signal: "HUP", Timeout: &five})
		}, "stop web signal=HUP t=5"},
		{func() error { return c.ContainerStop(ctx, "stopped", api.ContainerStopOptions{}) }, "stop stopped signal= t=nil"},
		{func() error { return c.ContainerRestart(ctx, " web ", api.ContainerStopOptions{Timeout: &five}) }, "restart web signal= t=5"},
		{func() error { return c.ContainerKill(ctx, "web", "") }, "kill web "},
		{func() error { return c.ContainerKill(ctx, "web", "USR1") }, "kill web USR1"},
		{func() error {
			return c.ContainerRemove(ctx, "web", api.ContainerRemoveOptions{Force: true, RemoveVolumes: true, RemoveLinks: true})
		}, "rm web force=true v=true link=true"},
		{func() error { return c.ContainerRemove(ctx, "web", api.ContainerRemoveOptions{}) }, "rm web force=false v=false link=false"},
		{func() error { return c.ContainerRename(ctx, "web", "web2") }, "rename web web2"},
		{func() error { return c.ContainerPause(ctx, "web") }, "pause web"},
		{func() error { return c.ContainerUnpause(ctx, "web") }, "unpause web"},
		{func() error { _, err := c.ContainerTop(ctx, "web", []string{"aux", "-x"}); return err }, `top web "aux -x"`},
		{func() error { _, err := c.ContainerTop(ctx, "web", nil); return err }, `top web ""`},
		{func() error {
			r, err := c.ContainerUpdate(ctx, "web", container.UpdateConfig{Resources: container.Resources{CPUShares: 512}})
			if err == nil && strings.Join(r.Warnings, ",") != "careful" {
				err = fmt.Errorf("update answered %+v", r)
			}
			return err
		}, `update web {"CpuShares":512,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":null,"BlkioDeviceReadBps":null,"BlkioDeviceWriteBps":null,"BlkioDeviceReadIOps":null,"BlkioDeviceWriteIOps":null,"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":null,"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":null,"OomKillDisable":null,"PidsLimit":null,"Ulimits":null,"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"RestartPolicy":{"Name":"","MaximumRetryCount":0}}`},
		{func() error {
			r, err := c.ContainersPrune(ctx, api.NewFilters("until", "1h"))
			if err == nil && (r.SpaceReclaimed != 42 || r.ContainersDeleted[0] != "abc") {
				err = fmt.Errorf("prune answered %+v", r)
			}
			return err
		}, `prune {"until":{"1h":true}}`},
	}
	for _, tc := range calls {
		if err := tc.call(); err != nil {
			t.Errorf("%s: %v", tc.want, err)
		}
		if got := f.last(); got != tc.want {
			t.Errorf("backend got  %q\nwant %q", got, tc.want)
		}
	}
}

func TestContainerInspectWithRaw(t *testing.T) {
	t.Parallel()
	f := &manageFake{}
	c := serveManage(t, f)
	ctx := context.Background()
	resp, raw, err := c.ContainerInspectWithRaw(ctx, "web", true)
	if err != nil || resp.ID != "abc" || !strings.HasPrefix(string(raw), `{"Id":"abc",`) {
		t.Fatalf("inspect: %+v %s %v", resp, raw, err)
	}
	if f.last() != "inspect web size=true" {
		t.Errorf("backend got %q", f.last())
	}
	if _, err := c.ContainerInspect(ctx, "web"); err != nil || f.last() != "inspect web size=false" {
		t.Errorf("inspect without size: %v, backend got %q", err, f.last())
	}
	_, _, err = c.ContainerInspectWithRaw(ctx, "nope", false)
	if !errdefs.IsNotFound(err) || err.Error() != "Error response from daemon: No such container: nope" {
		t.Errorf("inspect of a missing container: %v", err)
	}
}

// TestContainerEmptyName checks that an empty name is refused before any
// request, with the docker client's message.
func TestContainerEmptyName(t *testing.T) {
	t.Parallel()
	f := &manageFake{}
	c := serveManage(t, f)
	ctx := context.Background()
	calls := map[string]func() error{
		"stop":    func() error { return c.ContainerStop(ctx, " ", api.ContainerStopOptions{}) },
		"kill":    func() error { return c.ContainerKill(ctx, "", "") },
		"rm":      func() error { return c.ContainerRemove(ctx, "", api.ContainerRemoveOptions{}) },
		"inspect": func() error { _, err := c.ContainerInspect(ctx, ""); return err },
		"top":     func() error { _, err := c.ContainerTop(ctx, "", nil); return err },
		"stats":   func() error { _, err := c.ContainerStats(ctx, "", false); return err },
		"update":  func() error { _, err := c.ContainerUpdate(ctx, "", container.UpdateConfig{}); return err },
	}
	for name, call := range calls {
		err := call()
		if !errdefs.IsInvalidArgument(err) || err.Error() != "invalid container name or ID: value is empty" {
			t.Errorf("%s with an empty name: %v", name, err)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("requests were sent: %v", f.calls)
	}
}

func TestContainerErrors(t *testing.T) {
	t.Parallel()
	c := serveManage(t, &manageFake{})
	ctx := context.Background()
	for name, err := range map[string]error{
		"stop":    c.ContainerStop(ctx, "nope", api.ContainerStopOptions{}),
		"restart": c.ContainerRestart(ctx, "nope", api.ContainerStopOptions{}),
		"kill":    c.ContainerKill(ctx, "nope", ""),
		"rm":      c.ContainerRemove(ctx, "nope", api.ContainerRemoveOptions{}),
		"pause":   c.ContainerPause(ctx, "nope"),
		"rename":  c.ContainerRename(ctx, "nope", "x"),
	} {
		if !errdefs.IsNotFound(err) || err.Error() != "Error response from daemon: No such container: nope" {
			t.Errorf("%s of a missing container: %v", name, err)
		}
	}
}

func TestContainerStats(t *testing.T) {
	t.Parallel()
	f := &manageFake{}
	c := serveManage(t, f)
	ctx := context.Background()
	read := func(rc io.ReadCloser, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(c.ContainerStats(ctx, "web", true)); strings.Count(got, "\n") != 3 || f.last() != "stats web stream=true oneshot=false" {
		t.Errorf("streamed stats: %q, backend got %q", got, f.last())
	}
	if got := read(c.ContainerStats(ctx, "web", false)); strings.Count(got, "\n") != 1 || f.last() != "stats web stream=false oneshot=false" {
		t.Errorf("one sample: %q, backend got %q", got, f.last())
	}
	if got := read(c.ContainerStatsOneShot(ctx, "web")); strings.Count(got, "\n") != 1 || f.last() != "stats web stream=false oneshot=true" {
		t.Errorf("one shot: %q, backend got %q", got, f.last())
	}
	if _, err := c.ContainerStats(ctx, "nope", false); !errdefs.IsNotFound(err) {
		t.Errorf("stats of a missing container: %v", err)
	}
}
