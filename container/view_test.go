package container

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
)

func TestStatusString(t *testing.T) {
	t.Parallel()
	sts := states() // started at t0; restarting at t0+1s; exited at t0+1m
	health := func(st State, h container.HealthStatus) State {
		st.Health = &container.Health{Status: h}
		return st
	}
	tests := []struct {
		st   State
		now  time.Duration // after t0
		want string
	}{
		{sts["created"], time.Hour, "Created"},
		{sts["running"], 500 * time.Millisecond, "Up Less than a second"},
		{sts["running"], time.Second, "Up 1 second"},
		{sts["running"], 3 * time.Second, "Up 3 seconds"},
		{sts["running"], 61 * time.Second, "Up About a minute"},
		{sts["running"], 2 * time.Minute, "Up 2 minutes"},
		{sts["running"], 5 * time.Hour, "Up 5 hours"},
		{sts["running"], 72 * time.Hour, "Up 3 days"},
		{sts["paused"], 2 * time.Minute, "Up 2 minutes (Paused)"},
		{sts["restarting"], 5 * time.Second, "Restarting (1) 4 seconds ago"},
		{sts["exited"], 6 * time.Minute, "Exited (3) 5 minutes ago"},
		{sts["exited"], time.Minute + 10*time.Second, "Exited (3) 10 seconds ago"},
		{sts["removing"], time.Hour, "Removal In Progress"},
		{sts["dead"], time.Hour, "Dead"},
		{health(sts["running"], container.Healthy), 3 * time.Second, "Up 3 seconds (healthy)"},
		{health(sts["running"], container.Unhealthy), 3 * time.Second, "Up 3 seconds (unhealthy)"},
		{health(sts["running"], container.Starting), 3 * time.Second, "Up 3 seconds (health: starting)"},
		{health(sts["paused"], container.Healthy), 3 * time.Second, "Up 3 seconds (Paused)"},
	}
	for _, tt := range tests {
		if got := StatusString(&tt.st, t0.Add(tt.now)); got != tt.want {
			t.Errorf("StatusString(%s at +%v) = %q, want %q", tt.st.Status(), tt.now, got, tt.want)
		}
	}
}

func TestCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		args []string
		want string
	}{
		{"sh", nil, "sh"},
		{"/bin/sh", []string{"-c", "echo hi; sleep 1"}, "/bin/sh -c 'echo hi; sleep 1'"},
		{"nginx", []string{"-g", "daemon off;"}, "nginx -g 'daemon off;'"},
		{"top", []string{"-b"}, "top -b"},
	}
	for _, tt := range tests {
		if got := Command(tt.path, tt.args); got != tt.want {
			t.Errorf("Command(%q, %q) = %q, want %q", tt.path, tt.args, got, tt.want)
		}
	}
}

// sample is a running container with a port, a network, a volume and
// labels.
func sample() *Container {
	p80, _ := network.ParsePort("80/tcp")
	p53, _ := network.ParsePort("53/udp")
	c := &Container{
		ID: testID, Name: "/web", Created: t0, Path: "nginx", Args: []string{"-g", "daemon off;"},
		Image: "nginx:1.27", ImageID: "sha256:" + strings.Repeat("ab", 32), Driver: "overlayfs",
		Config: &container.Config{Image: "nginx:1.27", Labels: map[string]string{"app": "web", "tier": "front"}},
		HostConfig: &container.HostConfig{NetworkMode: "bridge",
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyAlways}},
		NetworkSettings: &container.NetworkSettings{
			Ports: network.PortMap{
				p80: {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "8080"}},
				p53: nil,
			},
			Networks: map[string]*network.EndpointSettings{"bridge": {
				NetworkID: "netid123", IPAddress: netip.MustParseAddr("172.17.0.2"), IPPrefixLen: 16,
				Aliases: []string{"web"},
			}},
		},
		Mounts: []container.MountPoint{{Type: mount.TypeVolume, Name: "data", Source: "/var/lib/corral/volumes/data/_data",
			Destination: "/data", RW: true}},
		LogPath:      "/var/lib/corral/containers/" + testID + "/" + testID + "-json.log",
		RestartCount: 2,
	}
	c.State.SetRunning(4242, t0.Add(time.Second))
	return c
}

func TestSummary(t *testing.T) {
	t.Parallel()
	c := sample()
	s := Summary(c, t0.Add(4*time.Second))
	if s.ID != testID || !reflect.DeepEqual(s.Names, []string{"/web"}) || s.Image != "nginx:1.27" ||
		s.ImageID != c.ImageID || s.Created != t0.Unix() || s.State != container.StateRunning ||
		s.Status != "Up 3 seconds" || s.Command != "nginx -g 'daemon off;'" ||
		s.HostConfig.NetworkMode != "bridge" || s.Labels["app"] != "web" || len(s.Mounts) != 1 {
		t.Fatalf("Summary = %+v", s)
	}
	wantPorts := []container.PortSummary{
		{PrivatePort: 53, Type: "udp"},
		{IP: netip.MustParseAddr("0.0.0.0"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
	}
	if !reflect.DeepEqual(s.Ports, wantPorts) {
		t.Errorf("Ports = %+v, want %+v", s.Ports, wantPorts)
	}
	ep := s.NetworkSettings.Networks["bridge"]
	if ep == nil || ep.IPAddress.String() != "172.17.0.2" || ep.NetworkID != "netid123" || ep.Aliases != nil {
		t.Errorf("Networks = %+v", s.NetworkSettings.Networks)
	}
	// The summary shares nothing the caller could change in the record.
	s.Labels["app"] = "changed"
	s.Mounts[0].Name = "changed"
	ep.IPPrefixLen = 1
	if c.Config.Labels["app"] != "web" || c.Mounts[0].Name != "data" ||
		c.NetworkSettings.Networks["bridge"].IPPrefixLen != 16 {
		t.Error("changing the summary changed the record")
	}
}

func TestSummaryEmpty(t *testing.T) {
	t.Parallel()
	s := Summary(&Container{ID: testID, Name: "/x", Created: t0}, t0)
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	// docker ps reads these as lists and maps: never null.
	for _, field := range []string{`"Ports":[]`, `"Labels":{}`, `"Mounts":[]`, `"Names":["/x"]`, `"Status":"Created"`, `"State":"created"`} {
		if !strings.Contains(string(data), field) {
			t.Errorf("summary JSON %s lacks %s", data, field)
		}
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	c := sample()
	r, err := Inspect(c)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != testID || r.Name != "/web" || r.Image != c.ImageID || r.Config.Image != "nginx:1.27" ||
		r.Path != "nginx" || len(r.Args) != 2 || r.RestartCount != 2 || r.Driver != "overlayfs" ||
		r.Platform != "linux" || r.LogPath != c.LogPath || r.HostConfig.RestartPolicy.Name != "always" {
		t.Fatalf("Inspect = %+v", r)
	}
	if r.Created != "2026-11-22T10:00:00Z" {
		t.Errorf("Created = %q", r.Created)
	}
	st := r.State
	if st.Status != container.StateRunning || !st.Running || st.Pid != 4242 ||
		st.StartedAt != "2026-11-22T10:00:01Z" || st.FinishedAt != "0001-01-01T00:00:00Z" {
		t.Errorf("State = %+v", st)
	}
	if r.NetworkSettings.Networks["bridge"].Aliases[0] != "web" {
		t.Errorf("NetworkSettings = %+v", r.NetworkSettings)
	}
	r.Config.Labels["app"] = "changed"
	r.HostConfig.NetworkMode = "none"
	if c.Config.Labels["app"] != "web" || c.HostConfig.NetworkMode != "bridge" {
		t.Error("changing the inspect view changed the record")
	}
	empty, err := Inspect(&Container{ID: testID, Name: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if empty.Args == nil || empty.Mounts == nil || empty.NetworkSettings == nil || empty.State.Status != "created" {
		t.Errorf("Inspect of a bare record = %+v", empty)
	}
}

// TestRecordRoundTrip checks that a record survives its stored form, which
// is also how the store copies records.
func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	c := sample()
	c.State.Health = &container.Health{Status: container.Healthy, FailingStreak: 0,
		Log: []*container.HealthcheckResult{{Start: t0, End: t0.Add(time.Second), Output: "ok"}}}
	c.RestartDelay = 400 * time.Millisecond
	cp, err := clone(c)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, cp) {
		a, _ := json.Marshal(c)
		b, _ := json.Marshal(cp)
		t.Fatalf("round trip changed the record:\n%s\n%s", a, b)
	}
}
