package container

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/corral-dev/corral/errdefs"
)

// listStore holds, oldest first: c1 created, r2 running, e3 exited (0),
// p4 paused, e5 exited (137), h6 running and healthy, d7 dead.
func listStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	p80, _ := network.ParsePort("80/tcp")
	specs := []struct {
		name, image, imageID string
		labels               map[string]string
		setup                func(c *Container)
	}{
		{"c1", "busybox", "sha256:aaaa", map[string]string{"app": "a"}, nil},
		{"r2", "busybox:latest", "sha256:aaaa", map[string]string{"app": "b", "tier": "web"}, func(c *Container) {
			c.State.SetRunning(2, t0)
			c.NetworkSettings = &container.NetworkSettings{
				Networks: map[string]*network.EndpointSettings{"front": {NetworkID: "f1f2f3"}},
				Ports:    network.PortMap{p80: {{HostPort: "8080"}}},
			}
		}},
		{"e3", "alpine", "sha256:bbbb", map[string]string{"tier": "db"}, func(c *Container) {
			c.State.SetRunning(3, t0)
			c.State.SetStopped(Exit{Code: 0, At: t0.Add(time.Second)})
			c.Mounts = []container.MountPoint{{Name: "data", Destination: "/data"}}
		}},
		{"p4", "alpine", "sha256:bbbb", nil, func(c *Container) {
			c.State.SetRunning(4, t0)
			c.State.SetPaused()
			c.Mounts = []container.MountPoint{{Source: "/srv/www", Destination: "/www"}}
		}},
		{"e5", "nginx", "sha256:cccc", nil, func(c *Container) {
			c.State.SetRunning(5, t0)
			c.State.SetStopped(Exit{Code: 137, At: t0.Add(time.Second)})
		}},
		{"h6", "nginx", "sha256:cccc", nil, func(c *Container) {
			c.State.SetRunning(6, t0)
			c.State.Health = &container.Health{Status: container.Healthy}
		}},
		{"d7", "busybox", "sha256:aaaa", nil, func(c *Container) { c.State.SetDead() }},
	}
	for i, sp := range specs {
		c := newRecord(NewID(), sp.name, t0.Add(time.Duration(i)*time.Minute))
		c.Image, c.ImageID, c.Config.Labels = sp.image, sp.imageID, sp.labels
		if sp.setup != nil {
			sp.setup(c)
		}
		if err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func names(cs []*Container) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = strings.TrimPrefix(c.Name, "/")
	}
	return strings.Join(out, " ")
}

func TestList(t *testing.T) {
	t.Parallel()
	s := listStore(t)
	f := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = append(m[kv[i]], kv[i+1])
		}
		return m
	}
	r2, _ := s.Get("r2")
	tests := []struct {
		name string
		opts ListOptions
		want string
	}{
		{"running only", ListOptions{}, "h6 p4 r2"},
		{"all, newest first", ListOptions{All: true}, "d7 h6 e5 p4 e3 r2 c1"},
		{"limit implies all", ListOptions{Limit: 3}, "d7 h6 e5"},
		{"status exited", ListOptions{Filters: f("status", "exited")}, "e5 e3"},
		{"status created or dead", ListOptions{Filters: f("status", "created", "status", "dead")}, "d7 c1"},
		{"status paused", ListOptions{Filters: f("status", "paused")}, "p4"},
		{"exited=137", ListOptions{All: true, Filters: f("exited", "137")}, "e5"},
		{"exited=0", ListOptions{All: true, Filters: f("exited", "0")}, "e3"},
		{"exited without all", ListOptions{Filters: f("exited", "0")}, ""},
		{"name exact", ListOptions{All: true, Filters: f("name", "e3")}, "e3"},
		{"name with slash", ListOptions{All: true, Filters: f("name", "/e3")}, "e3"},
		{"name regexp", ListOptions{All: true, Filters: f("name", "^e")}, "e5 e3"},
		{"name substring", ListOptions{All: true, Filters: f("name", "5")}, "e5"},
		{"id prefix", ListOptions{All: true, Filters: f("id", r2.ID[:6])}, "r2"},
		{"id full", ListOptions{All: true, Filters: f("id", r2.ID)}, "r2"},
		{"label key", ListOptions{All: true, Filters: f("label", "tier")}, "e3 r2"},
		{"label key=value", ListOptions{All: true, Filters: f("label", "tier=web")}, "r2"},
		{"labels are and-ed", ListOptions{All: true, Filters: f("label", "tier", "label", "app=b")}, "r2"},
		{"label value mismatch", ListOptions{All: true, Filters: f("label", "app=c")}, ""},
		{"ancestor as typed", ListOptions{All: true, Filters: f("ancestor", "alpine")}, "p4 e3"},
		{"ancestor by ID", ListOptions{All: true, Filters: f("ancestor", "sha256:cccc")}, "h6 e5"},
		{"ancestor by ID prefix", ListOptions{All: true, Filters: f("ancestor", "ccc")}, "h6 e5"},
		{"ancestor resolved", ListOptions{All: true, Filters: f("ancestor", "busybox"), Ancestor: func(v string) []string {
			if v == "busybox" {
				return []string{"sha256:aaaa"}
			}
			return nil
		}}, "d7 r2 c1"},
		{"ancestor unknown", ListOptions{All: true, Filters: f("ancestor", "x"), Ancestor: func(string) []string { return nil }}, ""},
		{"volume by name", ListOptions{All: true, Filters: f("volume", "data")}, "e3"},
		{"volume by destination", ListOptions{All: true, Filters: f("volume", "/www")}, "p4"},
		{"bind by source", ListOptions{All: true, Filters: f("volume", "/srv/www")}, "p4"},
		{"network by name", ListOptions{All: true, Filters: f("network", "front")}, "r2"},
		{"network by ID prefix", ListOptions{All: true, Filters: f("network", "f1f")}, "r2"},
		{"health healthy", ListOptions{Filters: f("health", "healthy")}, "h6"},
		{"health none", ListOptions{Filters: f("health", "none")}, "p4 r2"},
		{"publish", ListOptions{Filters: f("publish", "8080")}, "r2"},
		{"publish range", ListOptions{Filters: f("publish", "8000-8100/tcp")}, "r2"},
		{"publish udp", ListOptions{Filters: f("publish", "8080/udp")}, ""},
		{"expose", ListOptions{Filters: f("expose", "80/tcp")}, "r2"},
		{"before", ListOptions{All: true, Filters: f("before", "e3")}, "r2 c1"},
		{"since", ListOptions{All: true, Filters: f("since", "e3")}, "d7 h6 e5 p4"},
		{"since and before", ListOptions{All: true, Filters: f("since", "c1", "before", "e5")}, "p4 e3 r2"},
		{"since without all", ListOptions{Filters: f("since", "r2")}, "h6 p4"},
		{"is-task", ListOptions{All: true, Filters: f("is-task", "true")}, ""},
		{"not a task", ListOptions{Filters: f("is-task", "false")}, "h6 p4 r2"},
		{"isolation ignored", ListOptions{Filters: f("isolation", "default")}, "h6 p4 r2"},
		{"limit with a filter", ListOptions{Limit: 1, Filters: f("label", "tier")}, "e3"},
	}
	for _, tt := range tests {
		got, err := s.List(tt.opts)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if names(got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, names(got), tt.want)
		}
	}
}

func TestListErrors(t *testing.T) {
	t.Parallel()
	s := listStore(t)
	tests := []struct {
		filters map[string][]string
		class   func(error) bool
		msg     string
	}{
		{map[string][]string{"colour": {"red"}}, errdefs.IsInvalidArgument, "invalid filter 'colour'"},
		{map[string][]string{"exited": {"x"}}, errdefs.IsInvalidArgument, `invalid filter 'exited=x': strconv.Atoi: parsing "x": invalid syntax`},
		{map[string][]string{"status": {"sleeping"}}, errdefs.IsInvalidArgument, "invalid filter 'status=sleeping': invalid value for state (sleeping): must be one of created, running, paused, restarting, removing, exited, dead"},
		{map[string][]string{"health": {"ok"}}, errdefs.IsInvalidArgument, "invalid filter 'health=ok'"},
		{map[string][]string{"before": {"nope"}}, errdefs.IsNotFound, "No such container: nope"},
		{map[string][]string{"publish": {"1:2"}}, errdefs.IsInvalidArgument, "filter for 'publish' should not contain ':': 1:2"},
		{map[string][]string{"expose": {"x/tcp"}}, errdefs.IsInvalidArgument, "error while looking up for expose x/tcp"},
		{map[string][]string{"is-task": {"maybe"}}, errdefs.IsInvalidArgument, "invalid filter 'is-task=maybe'"},
	}
	for _, tt := range tests {
		_, err := s.List(ListOptions{Filters: tt.filters})
		if err == nil || !tt.class(err) || !strings.HasPrefix(err.Error(), tt.msg) {
			t.Errorf("List(%v) = %v, want %q", tt.filters, err, tt.msg)
		}
	}
	if got, err := s.List(ListOptions{All: true, Filters: map[string][]string{"name": {"(unclosed"}}}); err != nil || len(got) != 0 {
		t.Errorf("an invalid name expression: %v, %v", names(got), err)
	}
	all, _ := s.List(ListOptions{All: true})
	if !slices.IsSortedFunc(all, func(a, b *Container) int { return b.Created.Compare(a.Created) }) {
		t.Error("not newest first")
	}
}
