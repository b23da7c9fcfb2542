package cli

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/system"

	"github.com/corral-dev/corral/client"
	"github.com/corral-dev/corral/errdefs"
)

const infoClient = "Client:\n Version:    dev\n Context:    default\n Debug Mode: false\n\n"

const infoServer = `Server:
 Containers: 4
  Running: 1
  Paused: 1
  Stopped: 2
 Images: 3
 Server Version: 0.1.0
 Storage Driver: overlayfs
  driver-type: io.containerd.snapshotter.v1
 Logging Driver: json-file
 Cgroup Driver: cgroupfs
 Cgroup Version: 1
 Plugins:
  Volume: local
  Network: bridge host none
  Log: json-file local
 Swarm: inactive
 Runtimes: corral
 Default Runtime: corral
 Init Binary: corral-init
 containerd version: 
 runc version: 0.1.0
 init version: 0.1.0
 Security Options:
  seccomp
   Profile: builtin
  cgroupns
 Kernel Version: 6.18.0
 Operating System: Debian GNU/Linux 12 (bookworm)
 OSType: linux
 Architecture: x86_64
 CPUs: 2
 Total Memory: 7.629GiB
 Name: host1
 ID: 6a1b2c3d-1234-5678-9abc-def012345678
 Docker Root Dir: /var/lib/corral
 Debug Mode: false
 Labels:
  zone=a
 Experimental: false
 Insecure Registries:
  127.0.0.0/8
  ::1/128
 Live Restore Enabled: true

`

func TestInfo(t *testing.T) {
	f := newEngineFake()
	sock := serveEngine(t, f)
	tests := []manageCase{
		{args: []string{"info"}, out: infoClient + infoServer, err: "WARNING: bridge-nf-call-iptables is disabled\n", calls: []string{"info"}},
		{args: []string{"system", "info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.Driver}} {{json .Plugins.Network}}"},
			out: `4 1 overlayfs ["bridge","host","none"]` + "\n", calls: []string{"info"}},
		// A template of the client's fields only does not ask the engine.
		{args: []string{"info", "--format", "{{.ClientInfo.Context}} {{.ClientInfo.Debug}}"}, out: "default false\n"},
		{args: []string{"info", "--format", "{{.Nope}}"}, code: 1, out: "\n", calls: []string{"info"},
			err: "template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type cli.engineInfo\n"},
		{args: []string{"info", "--format", "{{"}, code: 64, calls: []string{"info"},
			err: "template parsing error: template: :1: unclosed action\n"},
		// As docker's, the registry configuration's keys are sorted.
		{args: []string{"info", "--format", "json"}, outContains: `,"RegistryConfig":{"IndexConfigs":{"docker.io":{"Mirrors":null,"Name":"docker.io",` +
			`"Official":true,"Secure":true}},"InsecureRegistryCIDRs":["127.0.0.0/8","::1/128"],"Mirrors":null},"NCPU":2,`,
			calls: []string{"info"}},
		{args: []string{"info", "x"}, code: 1, err: "corral: 'corral info' accepts no arguments\n\nUsage:  corral info [OPTIONS]\n\n" +
			"Run 'corral info --help' for more information\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) { checkManage(t, f, sock, tc) })
	}
}

// infoFails is the real client whose Info fails.
type infoFails struct{ *client.Client }

func (infoFails) Info(context.Context) (system.Info, error) {
	return system.Info{}, errdefs.Wrap(errdefs.ErrUnavailable, errors.New("Error response from daemon: engine shutting down"))
}

func TestInfoErrors(t *testing.T) {
	run := func(connect func(context.Context, Globals) (ImageAPI, error), args ...string) (string, string, int) {
		var out, errb strings.Builder
		code := Main(args, Options{Connect: connect, Out: &out, Err: &errb})
		return out.String(), errb.String(), code
	}
	absent := filepath.Join(t.TempDir(), "none.sock")
	out, errOut, code := run(connectTo(absent), "info")
	wantErr := "Cannot connect to the corral daemon at unix://" + absent + ". Is the daemon running?\n"
	if out != infoClient+"Server:\n" || errOut != wantErr || code != 1 {
		t.Errorf("info without an engine: exit %d\n%s[stderr]\n%s", code, out, errOut)
	}
	failing := func(context.Context, Globals) (ImageAPI, error) {
		c, err := client.New("unix://" + absent)
		return infoFails{c}, err
	}
	out, errOut, code = run(failing, "info")
	if out != infoClient+"Server:\n" || code != 1 ||
		errOut != "ERROR: Error response from daemon: engine shutting down\nerrors pretty printing info\n" {
		t.Errorf("info with a failing engine: exit %d\n%s[stderr]\n%s", code, out, errOut)
	}
	out, errOut, code = run(failing, "info", "--format", "{{.Name}}|{{.ServerErrors}}")
	if out != "|[Error response from daemon: engine shutting down]\n" || code != 0 ||
		errOut != "Error response from daemon: engine shutting down\n" {
		t.Errorf("info --format with a failing engine: exit %d\n%s[stderr]\n%s", code, out, errOut)
	}
}

func TestVersion(t *testing.T) {
	f := newEngineFake()
	sock := serveEngine(t, f)
	client := "Client:\n Version:           dev\n API version:       1.47\n Go version:        " + runtime.Version() + "\n" +
		" Git commit:        \n Built:             \n OS/Arch:           " + runtime.GOOS + "/" + runtime.GOARCH + "\n Context:           default\n"
	server := "\nServer: corral Engine\n Engine:\n  Version:          0.1.0\n  API version:      1.47 (minimum version 1.24)\n" +
		"  Go version:       " + runtime.Version() + "\n  Git commit:       abc1234\n  Built:            Wed May  1 10:00:00 2024\n" +
		"  OS/Arch:          " + runtime.GOOS + "/" + runtime.GOARCH + "\n  Experimental:     false\n"
	out, errOut, code := runEngine(sock, "", "version")
	if code != 0 || errOut != "" || out != client+server {
		t.Errorf("version: exit %d\n%s[stderr]\n%s\nwant\n%s", code, out, errOut, client+server)
	}
	out, _, code = runEngine(sock, "", "version", "--format", "{{.Client.Version}} {{.Server.Version}} {{len .Server.Components}}")
	if code != 0 || out != "dev 0.1.0 1\n" {
		t.Errorf("version --format: exit %d %q", code, out)
	}
	absent := filepath.Join(t.TempDir(), "none.sock")
	out, errOut, code = runEngine(absent, "", "version")
	if code != 1 || out != client || errOut != "Cannot connect to the corral daemon at unix://"+absent+". Is the daemon running?\n" {
		t.Errorf("version without an engine: exit %d\n%s[stderr]\n%s", code, out, errOut)
	}
	if _, errOut, code := runEngine(sock, "", "version", "-f", "{{"); code != 64 || errOut != "template parsing error: template: version:1: unclosed action\n" {
		t.Errorf("version with a bad template: exit %d %q", code, errOut)
	}
}

func TestSecurityOptions(t *testing.T) {
	opts, err := decodeSecurityOptions([]string{"name=seccomp,profile=default", "name=userns", "name=selinux,profile=x,mode=y"})
	if err != nil || len(opts) != 3 || opts[0].name != "seccomp" || opts[0].options[0] != [2]string{"profile", "default"} ||
		opts[2].options[1] != [2]string{"mode", "y"} {
		t.Errorf("decoded %+v %v", opts, err)
	}
	if _, err := decodeSecurityOptions([]string{"name=seccomp,oops"}); err == nil {
		t.Error("a field without = was accepted")
	}
	if _, err := decodeSecurityOptions([]string{"name="}); err == nil {
		t.Error("an empty value was accepted")
	}
}

func TestInfoUsername(t *testing.T) {
	f := newEngineFake()
	sock := serveEngine(t, f)
	creds := &fakeCreds{}
	creds.Set("docker.io", "alice", "secret")
	var out strings.Builder
	code := Main([]string{"info"}, Options{Connect: connectTo(sock), Credentials: func() (Credentials, error) { return creds, nil }, Out: &out})
	if code != 0 || !strings.Contains(out.String(), " Debug Mode: false\n Username: alice\n Labels:\n") {
		t.Errorf("info of a user logged in to Docker Hub: exit %d\n%s", code, out.String())
	}
}
