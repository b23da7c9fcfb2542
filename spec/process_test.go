package spec

import (
	"slices"
	"testing"

	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestMergeImageConfigCommand(t *testing.T) {
	img := &ocispec.ImageConfig{Entrypoint: []string{"/entry"}, Cmd: []string{"default", "args"}}
	tests := []struct {
		name              string
		entrypoint, cmd   []string
		wantArgs          []string
		wantEntry         []string
		noImageEntryPoint bool
	}{
		{name: "image's", wantArgs: []string{"/entry", "default", "args"}},
		{name: "run args replace CMD", cmd: []string{"x"}, wantArgs: []string{"/entry", "x"}},
		{name: "--entrypoint drops the image's CMD", entrypoint: []string{"/bin/sh"}, wantArgs: []string{"/bin/sh"}},
		{name: "--entrypoint and args", entrypoint: []string{"/bin/sh"}, cmd: []string{"-c", "id"},
			wantArgs: []string{"/bin/sh", "-c", "id"}},
		{name: `--entrypoint ""`, entrypoint: []string{""}, wantArgs: nil},
		{name: `--entrypoint "" with args`, entrypoint: []string{""}, cmd: []string{"ls"}, wantArgs: []string{"ls"}},
		{name: "empty entrypoint slice keeps the image's", entrypoint: []string{}, cmd: []string{"y"},
			wantArgs: []string{"y"}},
	}
	for _, tt := range tests {
		c := &container.Config{Entrypoint: tt.entrypoint, Cmd: tt.cmd}
		got := Args(MergeImageConfig(c, img))
		if !slices.Equal(got, tt.wantArgs) {
			t.Errorf("%s: args %q, want %q", tt.name, got, tt.wantArgs)
		}
		if !slices.Equal(c.Entrypoint, tt.entrypoint) || !slices.Equal(c.Cmd, tt.cmd) {
			t.Errorf("%s: MergeImageConfig modified its input", tt.name)
		}
	}
}

func TestMergeImageConfigFields(t *testing.T) {
	img := &ocispec.ImageConfig{
		User: "app", WorkingDir: "/app", StopSignal: "SIGQUIT",
		Env:          []string{"PATH=/app/bin:/bin", "LANG=C", "EMPTY="},
		Labels:       map[string]string{"a": "image", "b": "image"},
		Volumes:      map[string]struct{}{"/data": {}},
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "bogus": {}},
	}
	c := &container.Config{User: "", Env: []string{"LANG=de_DE", "X=1"}, Labels: map[string]string{"a": "mine"}}
	m := MergeImageConfig(c, img)
	if m.User != "app" || m.WorkingDir != "/app" || m.StopSignal != "SIGQUIT" {
		t.Errorf("user/workdir/stop signal: %q %q %q", m.User, m.WorkingDir, m.StopSignal)
	}
	if want := []string{"LANG=de_DE", "X=1", "PATH=/app/bin:/bin", "EMPTY="}; !slices.Equal(m.Env, want) {
		t.Errorf("env %q, want %q", m.Env, want)
	}
	if m.Labels["a"] != "mine" || m.Labels["b"] != "image" || len(c.Labels) != 1 {
		t.Errorf("labels %v (input %v)", m.Labels, c.Labels)
	}
	if _, ok := m.Volumes["/data"]; !ok || len(m.ExposedPorts) != 1 {
		t.Errorf("volumes %v ports %v", m.Volumes, m.ExposedPorts)
	}
	own := MergeImageConfig(&container.Config{User: "1000", WorkingDir: "/w"}, img)
	if own.User != "1000" || own.WorkingDir != "/w" {
		t.Errorf("the container's user and workdir must win: %q %q", own.User, own.WorkingDir)
	}
}

func TestEnv(t *testing.T) {
	tests := []struct {
		c    container.Config
		want []string
	}{
		{container.Config{Hostname: "h"}, []string{"PATH=" + DefaultPath, "HOSTNAME=h"}},
		{container.Config{Hostname: "h", Tty: true, Env: []string{"A=1"}},
			[]string{"PATH=" + DefaultPath, "HOSTNAME=h", "TERM=xterm", "A=1"}},
		{container.Config{Hostname: "h", Tty: true, Env: []string{"TERM=vt100", "PATH=/x", "HOSTNAME=other"}},
			[]string{"PATH=/x", "HOSTNAME=other", "TERM=vt100"}},
		{container.Config{Hostname: "h", Env: []string{"HOSTNAME", "B=2", "NOTSET"}},
			[]string{"PATH=" + DefaultPath, "B=2"}},
		{container.Config{Hostname: "h", Env: []string{"A=1", "A=2", "E="}},
			[]string{"PATH=" + DefaultPath, "HOSTNAME=h", "A=2", "E="}},
	}
	for _, tt := range tests {
		if got := Env(&tt.c); !slices.Equal(got, tt.want) {
			t.Errorf("Env(%q, tty %v) = %q, want %q", tt.c.Env, tt.c.Tty, got, tt.want)
		}
	}
}

func TestInitNeedsBinary(t *testing.T) {
	in := baseInput("true")
	in.HostConfig.Init = ptrTo(true)
	if _, err := Build(in); err == nil {
		t.Error("--init without an init binary built")
	}
	in.Daemon.Init, in.Daemon.InitPath, in.HostConfig.Init = true, "/usr/libexec/corral/corral-init", nil
	s, err := Build(in)
	if err != nil || s.Process.Args[0] != InitPath || s.Process.Args[1] != "--" {
		t.Errorf("daemon-wide init: args %q, err %v", s.Process.Args, err)
	}
	in.HostConfig.Init = ptrTo(false)
	if s, _ := Build(in); s.Process.Args[0] != "true" {
		t.Errorf("--init=false: args %q", s.Process.Args)
	}
}
