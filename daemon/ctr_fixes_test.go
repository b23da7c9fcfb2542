package daemon

// Tests of the fixes that the end-to-end suite (test/e2e/engine,
// containers*_test.go) led to.

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/testutil"
)

// TestContainerPoliciesAtDaemonStart: a daemon starting again starts an
// always container the user had stopped, not an unless-stopped one.
func TestContainerPoliciesAtDaemonStart(t *testing.T) {
	e := newCtrEnv(t)
	policy := func(name container.RestartPolicyMode) func(*container.Config, *container.HostConfig) {
		return func(_ *container.Config, hc *container.HostConfig) { hc.RestartPolicy.Name = name }
	}
	always := e.create("", policy(container.RestartPolicyAlways), "sleep", "100")
	unless := e.create("", policy(container.RestartPolicyUnlessStopped), "sleep", "100")
	zero := 0
	for _, id := range []string{always, unless} {
		e.start(id)
		if err := e.s.ContainerStop(context.Background(), id, api.ContainerStopOptions{Timeout: &zero}); err != nil {
			t.Fatal(err)
		}
	}
	e.s.Close()
	e.open()
	deadline := time.Now().Add(20 * time.Second)
	for !e.inspect(always).State.Running {
		if time.Now().After(deadline) {
			t.Fatalf("the always container did not start with the daemon: %+v", e.inspect(always).State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if e.inspect(always).RestartCount != 0 {
		t.Errorf("a start with the daemon counted as a restart")
	}
	if in := e.inspect(unless); in.State.Running {
		t.Errorf("the unless-stopped container the user stopped started with the daemon")
	}
}

func TestHomeEnv(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000::/home/tester:/bin/sh\nnohome:x:7:7:::\n")
	for _, tc := range []struct {
		env  []string
		uid  uint32
		want []string
	}{
		{[]string{"PATH=/bin"}, 0, []string{"PATH=/bin", "HOME=/root"}},
		{nil, 1000, []string{"HOME=/home/tester"}},
		{nil, 7, []string{"HOME=/"}},
		{nil, 4242, []string{"HOME=/"}},
		{[]string{"HOME=/x"}, 1000, []string{"HOME=/x"}},
		{[]string{"HOMEDIR=/y"}, 0, []string{"HOMEDIR=/y", "HOME=/root"}},
	} {
		if got := homeEnv(tc.env, tc.uid, passwd); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("homeEnv(%v, %d) = %v, want %v", tc.env, tc.uid, got, tc.want)
		}
	}
}

func TestCheckOnHost(t *testing.T) {
	for _, tc := range []struct {
		stop, cpuset string
		nano         int64
		want         string // "" for no error
	}{
		{"", "", 0, ""},
		{"SIGUSR1", "0-1", 2e9, ""},
		{"BOGUS", "", 0, "Invalid signal: BOGUS"},
		{"", "", 3e9, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"},
		{"", "1", 0, ""},
		{"", "0,2", 0, "Requested CPUs are not available - requested 0,2, available: 0-1"},
		{"", "0-99999999", 0, "Invalid value 0-99999999 for cpuset cpus"},
		{"", "3-1", 0, "Invalid value 3-1 for cpuset cpus"},
	} {
		cfg := &container.Config{StopSignal: tc.stop}
		hc := &container.HostConfig{Resources: container.Resources{CpusetCpus: tc.cpuset, NanoCPUs: tc.nano}}
		err := checkOnHost(cfg, hc, 2, "0-1")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || !errdefs.IsInvalidArgument(err)):
			t.Errorf("%+v: %v, want %q", tc, err, tc.want)
		}
	}
}

// TestContainerAttachBinaryStdin: without a terminal, input is data: the
// detach keys (ctrl-p ctrl-q) in it reach the process.
func TestContainerAttachBinaryStdin(t *testing.T) {
	e := newCtrEnv(t)
	id := e.create("", func(c *container.Config, _ *container.HostConfig) {
		c.OpenStdin, c.StdinOnce, c.AttachStdin, c.AttachStdout = true, true, true, true
	}, "wc", "-c")
	input := bytes.Repeat([]byte("a\x10\x11b"), 5000)
	var out bytes.Buffer
	done := make(chan error, 1)
	attached := make(chan struct{})
	go func() {
		done <- e.s.ContainerAttach(context.Background(), id, api.ContainerAttachOptions{Stream: true, Stdin: true,
			Stdout: true, Streams: func(bool) (api.Streams, error) {
				close(attached)
				return api.Streams{Stdin: io.NopCloser(bytes.NewReader(input)), Stdout: &out}, nil
			}})
	}()
	<-attached
	e.start(id)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != strconv.Itoa(len(input)) {
		t.Errorf("wc -c of %d bytes with ctrl-p ctrl-q in them: %q", len(input), got)
	}
}

// TestContainerStopEvents: stop and restart publish dockerd's events, the
// signals included: kill 15, kill 9 (sleep as PID 1 ignores SIGTERM), die,
// stop; then start and restart.
func TestContainerStopEvents(t *testing.T) {
	e := newCtrEnv(t)
	since := time.Now()
	id := e.create("", nil, "sleep", "100")
	e.start(id)
	zero := 0
	if err := e.s.ContainerRestart(context.Background(), id, api.ContainerStopOptions{Timeout: &zero}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.ContainerStop(context.Background(), id, api.ContainerStopOptions{Timeout: &zero}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := e.events.Subscribe(ctx, api.EventsOptions{Since: since, Until: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range msgs {
		if m.Actor.ID == id {
			got = append(got, strings.TrimSpace(string(m.Action)+" "+m.Actor.Attributes["signal"]))
		}
	}
	want := "create,start,kill 15,kill 9,die,stop,start,restart,kill 15,kill 9,die,stop"
	if strings.Join(got, ",") != want {
		t.Errorf("events:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
}

// TestContainerRemoveRunningMessage: rm of a running container without
// force is refused with dockerd's (25+) message.
func TestContainerRemoveRunningMessage(t *testing.T) {
	e := newCtrEnv(t)
	id := e.create("busy", nil, "sleep", "100")
	e.start(id)
	err := e.s.ContainerRemove(context.Background(), id, api.ContainerRemoveOptions{})
	want := `cannot remove container "/busy": container is running: stop the container before removing or force remove`
	if !errdefs.IsConflict(err) || err.Error() != want {
		t.Errorf("rm of a running container: %v, want %q", err, want)
	}
	if err := e.s.ContainerPause(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	err = e.s.ContainerRemove(context.Background(), id, api.ContainerRemoveOptions{})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "container is paused") {
		t.Errorf("rm of a paused container: %v", err)
	}
}

func TestBoundingCaps(t *testing.T) {
	status := []byte("Name:\tx\nCapInh:\t0000000000000000\nCapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\n")
	caps := boundingCaps(status)
	if len(caps) != 40 || caps[0] != "CAP_CHOWN" || caps[len(caps)-1] != "CAP_CHECKPOINT_RESTORE" {
		t.Errorf("caps of 000001fffeffffff: %v", caps)
	}
	for _, c := range caps {
		if c == "CAP_SYS_RESOURCE" {
			t.Errorf("bit 24 is clear, yet CAP_SYS_RESOURCE is in %v", caps)
		}
	}
	if caps := boundingCaps([]byte("Name:\tx\n")); caps != nil {
		t.Errorf("no CapBnd line: %v", caps)
	}
	if caps := boundingCaps([]byte("CapBnd:\tzz\n")); caps != nil {
		t.Errorf("a bad CapBnd line: %v", caps)
	}
}

// TestContainerPrivilegedGetsBoundingSet: a privileged container gets the
// daemon's bounding set, so it starts on a host that withholds a
// capability (CAP_SYS_RESOURCE here).
func TestContainerPrivilegedGetsBoundingSet(t *testing.T) {
	e := newCtrEnv(t)
	id := e.create("", func(_ *container.Config, hc *container.HostConfig) { hc.Privileged = true },
		"grep", "CapEff", "/proc/self/status")
	e.start(id)
	if code := e.wait(id); code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := e.s.host.Caps
	out, _ := e.logs(id)
	mask, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(out, "CapEff:")), 16, 64)
	if err != nil {
		t.Fatalf("output %q", out)
	}
	if got := boundingCaps([]byte("CapBnd:\t" + strconv.FormatUint(mask, 16) + "\n")); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("CapEff %q, want the bounding set %v", out, want)
	}
}

// TestContainerNetworkSetup: a container with a network namespace of its
// own has its loopback up; one on the host's network has the host's name;
// an unknown network is an invalid argument (docker run would take a 404
// for a missing image and pull).
func TestContainerNetworkSetup(t *testing.T) {
	e := newCtrEnv(t)
	for _, mode := range []string{"none", "bridge"} {
		id := e.create("", func(_ *container.Config, hc *container.HostConfig) { hc.NetworkMode = container.NetworkMode(mode) },
			"cat", "/sys/class/net/lo/flags")
		e.start(id)
		e.wait(id)
		if out, _ := e.logs(id); out != "0x9\n" {
			t.Errorf("flags of lo with network %s: %q, want 0x9 (up, loopback)", mode, out)
		}
	}
	id := e.create("", func(_ *container.Config, hc *container.HostConfig) { hc.NetworkMode = "host" }, "hostname")
	host, _ := os.Hostname()
	if in := e.inspect(id); in.Config.Hostname != host {
		t.Errorf("hostname with the host's network: %q, want %q", in.Config.Hostname, host)
	}
	_, err := e.s.ContainerCreate(context.Background(), api.ContainerCreateOptions{
		Config: &container.Config{Image: "busybox", Cmd: []string{"true"}}, HostConfig: &container.HostConfig{NetworkMode: "nosuch"}})
	if !errdefs.IsInvalidArgument(err) || err.Error() != "network nosuch not found" {
		t.Errorf("create on an unknown network: %v", err)
	}
}

// TestMounted tells a mount point from a plain directory, including a bind
// mount from the same filesystem (same device as its parent: only the
// mount IDs tell them apart) and a path that does not exist.
func TestMounted(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	sub, src := filepath.Join(dir, "sub"), filepath.Join(dir, "src")
	for _, d := range []string{sub, src} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if mounted(sub) || mounted(filepath.Join(dir, "missing")) {
		t.Fatal("a plain directory or a missing path reported as mounted")
	}
	if err := unix.Mount(src, sub, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	if !mounted(sub) {
		t.Error("a bind mount from the same filesystem is not reported as mounted")
	}
	if err := unix.Unmount(sub, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(sub, unix.MNT_DETACH)
	if !mounted(sub) {
		t.Error("a tmpfs is not reported as mounted")
	}
}

// TestAllocateEndpointsNoNetwork: a container on no bridge network gets no
// endpoint at its start, and its record is not written again for it.
func TestAllocateEndpointsNoNetwork(t *testing.T) {
	e := newCtrEnv(t)
	id := e.create("", nil, "true")
	c, err := e.s.store.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(e.s.store.Dir(id), "container.json")
	before, err := os.Stat(record)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.s.allocateEndpoints(c)
	if err != nil || got != c {
		t.Fatalf("allocateEndpoints on none = %p, %v; want the record itself (%p)", got, err, c)
	}
	if after, err := os.Stat(record); err != nil || !os.SameFile(before, after) {
		t.Errorf("the record was rewritten (%v)", err)
	}
}
