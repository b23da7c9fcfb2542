package build

import (
	"errors"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// mountsOf parses RUN --mount=spec ... in a stage whose WORKDIR is /w.
func mountsOf(t *testing.T, specs ...string) ([]*instructions.Mount, error) {
	t.Helper()
	line := "RUN"
	for _, s := range specs {
		line += " --mount=" + s
	}
	df, err := Parse("Dockerfile", []byte("FROM scratch\n"+line+" true\n"))
	if err != nil {
		return nil, err
	}
	j := newJob(New(Options{}), df, nil, api.BuildOptions{}, nil)
	s := &state{args: map[string]string{"ID": "from-arg"}}
	s.cfg.WorkingDir = "/w"
	return j.parseMounts(s, df.Stages[0].Commands[0].(*instructions.RunCommand))
}

func TestMountDefaults(t *testing.T) {
	ms, err := mountsOf(t, "type=cache,target=rel", "type=secret,id=tok", "type=cache,target=/c,id=$ID",
		"type=bind,target=/b,source=x", "type=tmpfs,target=/t,size=1m")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		target, id string
		ro         bool
	}{{"/w/rel", "/w/rel", false}, {"/run/secrets/tok", "tok", true}, {"/c", "from-arg", false}, {"/b", "", true}, {"/t", "", false}}
	for i, w := range want {
		m := ms[i]
		if m.Target != w.target || m.CacheID != w.id || m.ReadOnly != w.ro {
			t.Errorf("mount %d: target %q id %q ro %t, want %+v", i, m.Target, m.CacheID, m.ReadOnly, w)
		}
	}
	if ms[4].SizeLimit != 1<<20 {
		t.Errorf("tmpfs size %d", ms[4].SizeLimit)
	}
}

func TestMountErrorsNameTheOption(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"type=cache,target=/c,foo=bar", "unexpected key 'foo'"},
		{"type=cache", "option target is required"},
		{"type=bind,target=/", "cannot mount over /"},
		{"type=nope,target=/x", `unsupported mount type "nope"`},
		{"type=cache,target=/c,sharing=wide", `unsupported sharing value "wide"`},
		{"type=cache,target=/c,mode=9", "invalid value 9 for mode"},
		{"type=cache,target=/c,uid=-1", "invalid value -1 for uid"},
		{"type=cache,target=/c,mode=17777", "option mode 17777"},
		{"type=tmpfs,target=/t,mode=0700", `mode not allowed for "tmpfs"`},
		{"type=tmpfs,target=/t,source=x", "from and source are not allowed"},
		{"type=bind,target=/b,size=1m", "unexpected key 'size'"},
		{"type=bind,target=/b,required", "unexpected key 'required'"},
		{"type=secret,id=a,from=x", "secret mount should not have a from"},
		{"type=secret,id=a,env=X", "option env is not supported"},
		{"type=cache,target=/c,ro=maybe", "invalid value for ro"},
	} {
		_, err := mountsOf(t, c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errdefs.IsInvalidArgument(err) {
			t.Errorf("--mount=%s: %v, want an invalid-argument error with %q", c.spec, err, c.want)
		}
	}
	if _, err := mountsOf(t, "type=ssh"); err == nil || !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("type=ssh: %v", err)
	}
	if _, err := mountsOf(t, "type=cache,target=/x", "type=tmpfs,target=/x/"); err == nil || !strings.Contains(err.Error(), "mounted twice") {
		t.Errorf("same target twice: %v", err)
	}
}
