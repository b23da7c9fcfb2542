package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/apiserver"
	"github.com/corral-dev/corral/client"
	"github.com/corral-dev/corral/errdefs"
)

// engineFake is the engine's System, Images, Containers, ContainerViews
// and ContainerAdmin backends over a fixed set of containers: the tests
// serve it through the real API server, to corral's CLI over the real
// client and to the docker CLI, and compare. It records the calls.
type engineFake struct {
	*fakeAPI // the images

	// cmu guards ctrs and notes.
	cmu   sync.Mutex
	ctrs  []container.Summary
	notes []string
}

const (
	webID  = "3f4c5e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80"
	dbID   = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
	newID  = "5555aaaa5555aaaa5555aaaa5555aaaa5555aaaa5555aaaa5555aaaa5555aaaa"
	longID = "77778888999900001111222233334444555566667777888899990000aaaabbbb"
)

func newEngineFake() *engineFake {
	now := time.Now().Unix()
	ip4, ip6 := netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::")
	return &engineFake{fakeAPI: newFakeAPI(), ctrs: []container.Summary{
		{ID: webID, Names: []string{"/web"}, Image: "busybox", ImageID: busyboxID,
			Command: "httpd -f -p 80 -h /www", Created: now - 2*3600, State: container.StateRunning, Status: "Up 2 hours",
			Ports: []container.PortSummary{{IP: ip4, PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
				{IP: ip6, PrivatePort: 80, PublicPort: 8080, Type: "tcp"}, {PrivatePort: 443, Type: "tcp"},
				{PrivatePort: 444, Type: "tcp"}, {IP: ip4, PrivatePort: 53, PublicPort: 53, Type: "udp"}},
			Labels: map[string]string{"app": "web", "tier": "front"},
			Mounts: []container.MountPoint{{Type: mount.TypeVolume, Name: "webdata0123456789abcdef", Driver: "local", Destination: "/www"},
				{Type: mount.TypeBind, Source: "/srv/conf", Destination: "/etc/httpd"}},
			NetworkSettings:         &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"bridge": {}}},
			ImageManifestDescriptor: &ocispec.Descriptor{Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}}},
		{ID: dbID, Names: []string{"/db", "/web/db"}, Image: "localhost:5000/db:1.0@" + busyboxDig, ImageID: labeledID,
			Command: "sleep 3600", Created: now - 3*86400, State: container.StateExited, Status: "Exited (0) 5 minutes ago",
			SizeRw: 12, SizeRootFs: 4261550},
		{ID: newID, Names: []string{"/fresh"}, Image: busyboxID, ImageID: busyboxID, Command: "", Created: now - 20*60,
			State: container.StateCreated, Status: "Created", Labels: map[string]string{}},
		{ID: longID, Names: []string{"/wörk"}, Image: "busybox@" + busyboxDig, ImageID: busyboxID,
			Command: "sh -c 'echo héllo wörld; sleep 1000'", Created: now - 45*60, State: container.StatePaused,
			Status: "Up 45 minutes (Paused)"},
	}}
}

func (f *engineFake) note(format string, args ...any) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	f.notes = append(f.notes, fmt.Sprintf(format, args...))
}

// takeNotes answers the calls noted since the last time.
func (f *engineFake) takeNotes() []string {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	n := f.notes
	f.notes = nil
	return n
}

func noSuchContainer(name string) error {
	return errdefs.NotFound(errors.New("No such container: " + name))
}

// find looks a container up by name, full ID or ID prefix.
func (f *engineFake) find(name string) (container.Summary, error) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	for _, c := range f.ctrs {
		if c.Names[0] == "/"+name || name != "" && strings.HasPrefix(c.ID, name) {
			return c, nil
		}
	}
	return container.Summary{}, noSuchContainer(name)
}

func (f *engineFake) ContainerList(_ context.Context, o api.ContainerListOptions) ([]container.Summary, error) {
	f.note("list all=%v limit=%d size=%v filters=%v", o.All, o.Limit, o.Size, o.Filters.Keys())
	if err := o.Filters.Validate("status", "name", "label", "id"); err != nil {
		return nil, err
	}
	f.cmu.Lock()
	defer f.cmu.Unlock()
	var out []container.Summary
	for _, c := range f.ctrs {
		if (o.All || o.Limit > 0 || c.State == container.StateRunning) && matchContainer(c, o.Filters) {
			if !o.Size {
				c.SizeRw, c.SizeRootFs = 0, 0
			}
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	if o.Limit > 0 && len(out) > o.Limit {
		out = out[:o.Limit]
	}
	return out, nil
}

func matchContainer(c container.Summary, f api.Filters) bool {
	if f.Contains("status") && !f.ExactMatch("status", string(c.State)) {
		return false
	}
	if f.Contains("name") && !f.Match("name", strings.TrimPrefix(c.Names[0], "/")) {
		return false
	}
	if f.Contains("id") && !f.Match("id", c.ID) {
		return false
	}
	return f.MatchLabels("label", c.Labels)
}

func (f *engineFake) ContainerInspect(_ context.Context, name string, size bool) (container.InspectResponse, error) {
	f.note("inspect %s size=%v", name, size)
	c, err := f.find(name)
	if err != nil {
		return container.InspectResponse{}, err
	}
	resp := container.InspectResponse{ID: c.ID, Name: c.Names[0], Image: c.ImageID, Path: "sh",
		Created: time.Unix(c.Created, 0).UTC().Format(time.RFC3339Nano),
		State:   &container.State{Status: c.State, Running: c.State == container.StateRunning, Pid: 42},
		Config:  &container.Config{Image: c.Image, Labels: c.Labels, Env: []string{"PATH=/bin"}},
		NetworkSettings: &container.NetworkSettings{Ports: network.PortMap{
			network.MustParsePort("80/tcp"): {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "8080"},
				{HostIP: netip.MustParseAddr("::"), HostPort: "8080"}},
			network.MustParsePort("443/tcp"):  nil,
			network.MustParsePort("9/tcp"):    {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "10009"}},
			network.MustParsePort("53/udp"):   {{HostPort: "5353"}},
			network.MustParsePort("8081/tcp"): {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "32768"}},
		}}}
	if size {
		rw, root := c.SizeRw, c.SizeRootFs
		resp.SizeRw, resp.SizeRootFs = &rw, &root
	}
	return resp, nil
}

func (f *engineFake) ContainerTop(_ context.Context, name, psArgs string) (container.TopResponse, error) {
	f.note("top %s %q", name, psArgs)
	if _, err := f.find(name); err != nil {
		return container.TopResponse{}, err
	}
	return container.TopResponse{Titles: []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"},
		Processes: [][]string{{"root", "4242", "4200", "0", "10:00", "?", "00:00:00", "httpd -f -p 80 -h /www"},
			{"www-data", "4250", "4242", "12", "10:01", "pts/0", "00:01:02", "sh"}}}, nil
}

func (f *engineFake) ContainerChanges(context.Context, string) ([]container.FilesystemChange, error) {
	return nil, errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("changes"))
}

// statsSample is the fixed sample of a container; n makes successive
// samples differ.
func statsSample(c container.Summary, n uint64) container.StatsResponse {
	read := time.Date(2024, 5, 1, 10, 0, int(n)+1, 0, time.UTC)
	return container.StatsResponse{ID: c.ID, Name: c.Names[0], Read: read, PreRead: read.Add(-time.Second),
		CPUStats: container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 5_000_000 + n*25_000_000},
			SystemUsage: 2_000_000_000 + n*1_000_000_000, OnlineCPUs: 2},
		PreCPUStats: container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 5_000_000}, SystemUsage: 1_000_000_000},
		MemoryStats: container.MemoryStats{Usage: 10_485_760 + n*1024, Limit: 2_147_483_648,
			Stats: map[string]uint64{"total_inactive_file": 1_048_576}},
		PidsStats: container.PidsStats{Current: 3 + n},
		Networks: map[string]container.NetworkStats{"eth0": {RxBytes: 1234, TxBytes: 5678},
			"eth1": {RxBytes: 1_000_000, TxBytes: 2}},
		BlkioStats: container.BlkioStats{IoServiceBytesRecursive: []container.BlkioStatEntry{
			{Op: "Read", Value: 4096}, {Op: "Write", Value: 8192}, {Op: "read", Value: 1}, {Op: "Total", Value: 12289}}},
	}
}

func (f *engineFake) ContainerStats(ctx context.Context, name string, o api.ContainerStatsOptions) (<-chan container.StatsResponse, error) {
	f.note("stats %s stream=%v", name, o.Stream)
	c, err := f.find(name)
	if err != nil {
		return nil, err
	}
	ch := make(chan container.StatsResponse)
	go func() {
		defer close(ch)
		for n := uint64(1); n <= 3; n++ {
			select {
			case ch <- statsSample(c, n):
			case <-ctx.Done():
				return
			}
			if !o.Stream {
				return
			}
		}
		<-ctx.Done() // the stream stays open, without samples
	}()
	return ch, nil
}

func (f *engineFake) ContainerLogs(context.Context, string, api.ContainerLogsOptions) (<-chan api.LogMessage, bool, error) {
	return nil, false, errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("logs"))
}

func (f *engineFake) ContainerCreate(context.Context, api.ContainerCreateOptions) (container.CreateResponse, error) {
	return container.CreateResponse{}, errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("create"))
}

func (f *engineFake) ContainerStart(context.Context, string) error {
	return errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("start"))
}

func (f *engineFake) ContainerWait(context.Context, string, container.WaitCondition) (<-chan container.WaitResponse, error) {
	return nil, errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("wait"))
}

// act notes a call on a container and answers whether it exists; "down"
// is a stopped container, whose stop answers 304.
func (f *engineFake) act(verb, name string, args ...any) error {
	f.note("%s %s%s", verb, name, fmt.Sprint(args...))
	if name == "down" && (verb == "stop" || verb == "restart") {
		return errdefs.Wrap(errdefs.ErrNotModified, errors.New("not modified"))
	}
	if name == "busy" {
		return errdefs.Conflict(errors.New("You cannot remove a running container " + webID + ". Stop the container before attempting removal or force remove"))
	}
	_, err := f.find(name)
	return err
}

func optTimeout(t *int) string {
	if t == nil {
		return "-"
	}
	return fmt.Sprint(*t)
}

func (f *engineFake) ContainerStop(_ context.Context, name string, o api.ContainerStopOptions) error {
	return f.act("stop", name, " signal=", o.Signal, " t=", optTimeout(o.Timeout))
}

func (f *engineFake) ContainerRestart(_ context.Context, name string, o api.ContainerStopOptions) error {
	return f.act("restart", name, " signal=", o.Signal, " t=", optTimeout(o.Timeout))
}

func (f *engineFake) ContainerKill(_ context.Context, name, signal string) error {
	return f.act("kill", name, " signal=", signal)
}

func (f *engineFake) ContainerRemove(_ context.Context, name string, o api.ContainerRemoveOptions) error {
	return f.act("rm", name, fmt.Sprintf(" force=%v v=%v link=%v", o.Force, o.RemoveVolumes, o.RemoveLinks))
}

func (f *engineFake) ContainerPause(_ context.Context, name string) error {
	return f.act("pause", name)
}

func (f *engineFake) ContainerUnpause(_ context.Context, name string) error {
	return f.act("unpause", name)
}

func (f *engineFake) ContainerRename(_ context.Context, name, newName string) error {
	if newName == "web" {
		f.note("rename %s %s", name, newName)
		return errdefs.Conflict(errors.New(`Conflict. The container name "/web" is already in use by container "` + webID + `". You have to remove (or rename) that container to be able to reuse that name.`))
	}
	return f.act("rename", name, " ", newName)
}

func (f *engineFake) ContainerUpdate(_ context.Context, name string, u container.UpdateConfig) (container.UpdateResponse, error) {
	limit := "nil"
	if u.PidsLimit != nil {
		limit = fmt.Sprint(*u.PidsLimit)
	}
	err := f.act("update", name, fmt.Sprintf(" mem=%d swap=%d cpus=%d shares=%d cpuset=%q pids=%s restart=%s:%d",
		u.Memory, u.MemorySwap, u.NanoCPUs, u.CPUShares, u.CpusetCpus, limit, u.RestartPolicy.Name, u.RestartPolicy.MaximumRetryCount))
	if err != nil {
		return container.UpdateResponse{}, err
	}
	var warnings []string
	if u.Memory != 0 {
		warnings = append(warnings, "Your kernel does not support swap limit capabilities.")
	}
	return container.UpdateResponse{Warnings: warnings}, nil
}

func (f *engineFake) ContainersPrune(_ context.Context, filters api.Filters) (container.PruneReport, error) {
	f.note("prune %v", filters.Keys())
	if err := filters.Validate("until", "label", "label!"); err != nil {
		return container.PruneReport{}, err
	}
	if filters.Contains("label") {
		return container.PruneReport{}, nil
	}
	return container.PruneReport{ContainersDeleted: []string{dbID, newID}, SpaceReclaimed: 4261562}, nil
}

func (f *engineFake) ContainerCommit(context.Context, api.ContainerCommitOptions) (string, error) {
	return "", errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("commit"))
}

// fakeEvents are the engine's past events.
var fakeEvents = []events.Message{
	{Type: events.ContainerEventType, Action: events.ActionCreate, Scope: "local",
		Actor: events.Actor{ID: webID, Attributes: map[string]string{"image": "busybox", "name": "web"}},
		Time:  1700000000, TimeNano: 1700000000123456789},
	{Type: events.ContainerEventType, Action: events.ActionStart, Scope: "local",
		Actor: events.Actor{ID: webID, Attributes: map[string]string{"image": "busybox", "name": "web", "app": "web"}},
		Time:  1700000001, TimeNano: 1700000001000000000},
	{Type: events.ImageEventType, Action: events.ActionPull, Scope: "local",
		Actor: events.Actor{ID: "busybox:latest", Attributes: map[string]string{"name": "busybox"}},
		Time:  1700000002, TimeNano: 1700000002000000500},
	{Type: events.NetworkEventType, Action: events.ActionConnect, Scope: "local",
		Actor: events.Actor{ID: "0123abcd", Attributes: map[string]string{"container": webID, "name": "bridge", "type": "bridge"}},
		Time:  1700000003, TimeNano: 1700000003000000000},
	{Type: events.ContainerEventType, Action: events.ActionDie, Scope: "local",
		Actor: events.Actor{ID: dbID, Attributes: map[string]string{"exitCode": "0", "image": "localhost:5000/db:1.0", "name": "db"}},
		Time:  1700000004, TimeNano: 1700000004000000000},
}

// Events replays fakeEvents between since and until (none without since,
// as dockerd), then ends with until or waits for ctx.
func (f *engineFake) Events(ctx context.Context, o api.EventsOptions) (<-chan events.Message, error) {
	f.note("events since=%d until=%d filters=%s", unixOf(o.Since), unixOf(o.Until), filtersJSON(o.Filters))
	if err := o.Filters.Validate("type", "event", "container", "image", "label"); err != nil {
		return nil, err
	}
	ch := make(chan events.Message)
	go func() {
		defer close(ch)
		for _, m := range fakeEvents {
			t := time.Unix(0, m.TimeNano)
			if o.Since.IsZero() || t.Before(o.Since) || !o.Until.IsZero() && t.After(o.Until) ||
				o.Filters.Contains("type") && !o.Filters.ExactMatch("type", string(m.Type)) ||
				o.Filters.Contains("event") && !o.Filters.ExactMatch("event", string(m.Action)) {
				continue
			}
			select {
			case ch <- m:
			case <-ctx.Done():
				return
			}
		}
		if o.Until.IsZero() {
			<-ctx.Done()
		}
	}()
	return ch, nil
}

func unixOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func filtersJSON(f api.Filters) string {
	b, _ := f.MarshalJSON()
	return string(b)
}

// fakeInfo is the engine's info.
func fakeInfo() system.Info {
	return system.Info{ID: "6a1b2c3d-1234-5678-9abc-def012345678", Containers: 4, ContainersRunning: 1,
		ContainersPaused: 1, ContainersStopped: 2, Images: 3, Driver: "overlayfs",
		DriverStatus: [][2]string{{"driver-type", "io.containerd.snapshotter.v1"}},
		Plugins: system.PluginsInfo{Volume: []string{"local"}, Network: []string{"bridge", "host", "none"},
			Log: []string{"json-file", "local"}},
		LoggingDriver: "json-file", CgroupDriver: "cgroupfs", CgroupVersion: "1",
		Swarm:          swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		Runtimes:       map[string]system.RuntimeWithStatus{"corral": {Runtime: system.Runtime{Path: "corral"}}},
		DefaultRuntime: "corral", OSType: "linux", InitBinary: "corral-init",
		RuncCommit: system.Commit{ID: "0.1.0"}, InitCommit: system.Commit{ID: "0.1.0"},
		SecurityOptions: []string{"name=seccomp,profile=builtin", "name=cgroupns"},
		KernelVersion:   "6.18.0", OperatingSystem: "Debian GNU/Linux 12 (bookworm)", Architecture: "x86_64",
		NCPU: 2, MemTotal: 8_192_000_000, Name: "host1", DockerRootDir: "/var/lib/corral",
		RegistryConfig: &registry.ServiceConfig{
			InsecureRegistryCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
			IndexConfigs:          map[string]*registry.IndexInfo{"docker.io": {Name: "docker.io", Secure: true, Official: true}}},
		LiveRestoreEnabled: true, ServerVersion: "0.1.0", Labels: []string{"zone=a"},
		Warnings: []string{"WARNING: bridge-nf-call-iptables is disabled"},
	}
}

func (f *engineFake) Info(context.Context) (system.Info, error) {
	f.note("info")
	return fakeInfo(), nil
}

// serveEngine serves f through the real API server on a unix socket and
// answers its path.
func serveEngine(t *testing.T, f *engineFake) string {
	t.Helper()
	srv := apiserver.New(apiserver.Config{System: f, Images: f, Containers: f, ContainerViews: f, ContainerAdmin: f,
		Networks: f, Volumes: f,
		Version: "0.1.0", GitCommit: "abc1234", BuildTime: "2024-05-01T10:00:00Z"})
	sock := filepath.Join(t.TempDir(), "engine.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, l)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return sock
}

// connectTo is Options.Connect for the engine on sock, through the real
// client.
func connectTo(sock string) func(context.Context, Globals) (ImageAPI, error) {
	return func(context.Context, Globals) (ImageAPI, error) { return client.New("unix://" + sock) }
}

var (
	_ ContainerAPI = (*client.Client)(nil)
	_ EngineAPI    = (*client.Client)(nil)
)

// The engine knows no networks or volumes: the top-level inspect goes on
// to the next type.

func (f *engineFake) NetworkList(context.Context, api.Filters) ([]network.Summary, error) {
	return []network.Summary{}, nil
}

func (f *engineFake) NetworkInspect(_ context.Context, name string, _ bool) (network.Inspect, error) {
	return network.Inspect{}, errdefs.NotFound(fmt.Errorf("network %s not found", name))
}

func (f *engineFake) NetworkCreate(context.Context, network.CreateRequest) (network.CreateResponse, error) {
	return network.CreateResponse{}, errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("networks"))
}

func (f *engineFake) NetworkRemove(_ context.Context, name string) error {
	return errdefs.NotFound(fmt.Errorf("network %s not found", name))
}

func (f *engineFake) NetworkConnect(context.Context, string, network.ConnectRequest) error {
	return errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("networks"))
}

func (f *engineFake) NetworkDisconnect(context.Context, string, network.DisconnectRequest) error {
	return errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("networks"))
}

func (f *engineFake) NetworksPrune(context.Context, api.Filters) (network.PruneReport, error) {
	return network.PruneReport{}, nil
}

func (f *engineFake) VolumeList(context.Context, api.Filters) (volume.ListResponse, error) {
	return volume.ListResponse{}, nil
}

func (f *engineFake) VolumeInspect(_ context.Context, name string) (volume.Volume, error) {
	return volume.Volume{}, errdefs.NotFound(fmt.Errorf("get %s: no such volume", name))
}

func (f *engineFake) VolumeCreate(context.Context, volume.CreateRequest) (volume.Volume, error) {
	return volume.Volume{}, errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("volumes"))
}

func (f *engineFake) VolumeRemove(_ context.Context, name string, _ bool) error {
	return errdefs.NotFound(fmt.Errorf("get %s: no such volume", name))
}

func (f *engineFake) VolumesPrune(context.Context, api.Filters) (volume.PruneReport, error) {
	return volume.PruneReport{}, nil
}
