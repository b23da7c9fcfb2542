package main

import (
	"strings"
	"testing"

	"github.com/corral-dev/corral/cli"
)

func TestTarget(t *testing.T) {
	long := "/" + strings.Repeat("d", 100)
	tests := []struct {
		g                      cli.Globals
		corralHost, dockerHost string
		corralRoot             string
		host, root             string
		explicit, fails        bool
	}{
		{host: "unix:///run/corral/corral.sock"},
		{g: cli.Globals{DataRoot: "/srv/c"}, host: "unix:///srv/c/corral.sock", root: "/srv/c"},
		{corralRoot: "/srv/e", host: "unix:///srv/e/corral.sock", root: "/srv/e"},
		{g: cli.Globals{DataRoot: "/srv/c"}, corralRoot: "/srv/e", host: "unix:///srv/c/corral.sock", root: "/srv/c"},
		{dockerHost: "unix:///d.sock", host: "unix:///d.sock", explicit: true},
		{corralHost: "unix:///c.sock", dockerHost: "unix:///d.sock", host: "unix:///c.sock", explicit: true},
		{g: cli.Globals{Host: "unix:///f.sock", DataRoot: "/srv/c"}, corralHost: "unix:///c.sock",
			host: "unix:///f.sock", root: "/srv/c", explicit: true},
		{g: cli.Globals{DataRoot: long}, fails: true},
	}
	for _, tt := range tests {
		t.Setenv("CORRAL_HOST", tt.corralHost)
		t.Setenv("DOCKER_HOST", tt.dockerHost)
		t.Setenv("CORRAL_ROOT", tt.corralRoot)
		got, err := target(tt.g)
		if tt.fails {
			if err == nil || !strings.Contains(err.Error(), "path too long for its socket") {
				t.Errorf("%+v: %+v %v, want an error", tt, got, err)
			}
			continue
		}
		if err != nil || got.host != tt.host || got.dataRoot != tt.root || got.explicit != tt.explicit {
			t.Errorf("%+v: got %+v %v", tt, got, err)
		}
	}
}
