package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/volume"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/apiserver"
	"github.com/corral-dev/corral/errdefs"
)

// volumeFake is a volume backend whose answers do not depend on what was
// asked before, so that both CLIs see the same engine; it notes each call.
type volumeFake struct {
	mu    sync.Mutex
	notes []string
}

func (f *volumeFake) note(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notes = append(f.notes, fmt.Sprintf(format, args...))
}

func (f *volumeFake) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.notes
	f.notes = nil
	sort.Strings(n)
	return n
}

// fakeVolumes have one label each: docker prints labels in map order.
var fakeVolumes = []volume.Volume{
	{Name: "data", Driver: "local", Mountpoint: "/var/lib/corral/volumes/data/_data", CreatedAt: "2024-05-01T10:00:00Z",
		Labels: map[string]string{"team": "a"}, Options: map[string]string{}, Scope: "local"},
	{Name: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Driver: "local",
		Mountpoint: "/var/lib/corral/volumes/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/_data",
		CreatedAt:  "2024-05-01T11:00:00Z", Labels: map[string]string{"com.example.anonymous": ""},
		Options: map[string]string{"type": "tmpfs", "device": "tmpfs"}, Scope: "local"},
}

func (f *volumeFake) VolumeList(_ context.Context, filters api.Filters) (volume.ListResponse, error) {
	b, _ := filters.MarshalJSON()
	f.note("ls %s", b)
	if filters.Contains("bogus") {
		return volume.ListResponse{}, errdefs.InvalidArgument(errors.New("invalid filter 'bogus'"))
	}
	return volume.ListResponse{Volumes: fakeVolumes}, nil
}

func (f *volumeFake) VolumeInspect(_ context.Context, name string) (volume.Volume, error) {
	f.note("inspect %s", name)
	for _, v := range fakeVolumes {
		if v.Name == name {
			return v, nil
		}
	}
	return volume.Volume{}, errdefs.NotFound(fmt.Errorf("get %s: no such volume", name))
}

func (f *volumeFake) VolumeCreate(_ context.Context, req volume.CreateRequest) (volume.Volume, error) {
	f.note("create %q %q %v %v", req.Name, req.Driver, req.Labels, req.DriverOpts)
	if req.Name == "bad/name" {
		return volume.Volume{}, errdefs.InvalidArgument(errors.New(`create bad/name: "bad/name" includes invalid characters for a local volume name`))
	}
	name := req.Name
	if name == "" {
		name = fakeVolumes[1].Name
	}
	return volume.Volume{Name: name, Driver: "local", Labels: req.Labels, Options: req.DriverOpts, Scope: "local"}, nil
}

func (f *volumeFake) VolumeRemove(_ context.Context, name string, force bool) error {
	f.note("rm %s force=%v", name, force)
	if name == "used" {
		return errdefs.Conflict(errors.New("remove used: volume is in use - [abc]"))
	}
	if name == "nope" && !force {
		return errdefs.NotFound(errors.New("get nope: no such volume"))
	}
	return nil
}

func (f *volumeFake) VolumesPrune(_ context.Context, filters api.Filters) (volume.PruneReport, error) {
	b, _ := filters.MarshalJSON()
	f.note("prune %s", b)
	return volume.PruneReport{VolumesDeleted: []string{"old1", "old2"}, SpaceReclaimed: 2048}, nil
}

var volumeParityCases = []parityCase{
	pcase("volume", "ls"), pcase("volume", "ls", "-q"), pcase("volume", "list", "--format", "json"),
	pcase("volume", "ls", "--format", `table {{.Name}}\t{{.Driver}}\t{{.Scope}}\t{{.Labels}}\t{{.Label "team"}}\t{{.Mountpoint}}`),
	pcase("volume", "ls", "--format", "{{.Name}} {{.Links}} {{.Size}}"), pcase("volume", "ls", "-f", "dangling=true", "-f", "label=team=a"),
	pcase("volume", "ls", "--filter", "bogus=1"), pcase("volume", "ls", "--format", "{{.Nope}}"), pcase("volume", "ls", "x"),
	pcase("volume", "create"), pcase("volume", "create", "v1"), pcase("volume", "create", "--name", "v1"),
	pcase("volume", "create", "-d", "local", "--label", "a=b", "-o", "type=tmpfs", "--opt", "device=tmpfs", "v2"),
	pcase("volume", "create", "bad/name"), pcase("volume", "create", "a", "b"),
	pcase("volume", "create", "--name", "v1", "v2"), pcase("volume", "create", "--label", "k", "--label", "x=y=z", "v3"),
	pcase("volume", "inspect", "data"), pcase("volume", "inspect", "data", "nope"), pcase("volume", "inspect", "-f", "{{.Name}} {{json .Labels}}", "data"),
	pcase("volume", "inspect", "--format", "json", "data"), pcase("volume", "inspect"),
	pcase("volume", "rm", "data", "nope", "used"), pcase("volume", "rm", "-f", "nope"), pcase("volume", "remove", "data"), pcase("volume", "rm"),
	pcase("volume", "prune", "-f"), pcase("volume", "prune", "-a", "-f", "--filter", "label=x"),
	{args: []string{"volume", "prune"}, in: "y\n"}, {args: []string{"volume", "prune", "-a"}, in: "n\n"},
	pcase("volume"), pcase("volume", "--help"), pcase("volume", "ls", "--help"), pcase("volume", "create", "--help"),
	pcase("volume", "rm", "--help"), pcase("volume", "prune", "--help"), pcase("volume", "inspect", "--help"),
}

// knownVolumeParityDifferences are the cases where corral differs from
// docker on purpose, and why.
var knownVolumeParityDifferences = map[string]string{
	"volume create a b": "docker prints a stray \"S\" before \"Run '...--help'\" (a docker 28.2 bug)",
}

// TestDockerParityVolume runs each volume command line through the real
// docker CLI and corral's against the same engine and compares output,
// exit code and the calls the engine got.
func TestDockerParityVolume(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("no docker CLI installed")
	}
	f := &volumeFake{}
	srv := apiserver.New(apiserver.Config{Volumes: f, Version: "0.1.0"})
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
	env := append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(t.TempDir(), "config"),
		"DOCKER_CLI_HINTS=false", "DOCKER_CLI_EXPERIMENTAL=")
	for _, tc := range volumeParityCases {
		name := strings.Join(tc.args, " ")
		t.Run(name, func(t *testing.T) {
			if why, ok := knownVolumeParityDifferences[name]; ok {
				t.Skip(why)
			}
			cmd := exec.Command(docker, tc.args...)
			cmd.Env, cmd.Stdin = env, strings.NewReader(tc.in)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			wantCode := 0
			var ee *exec.ExitError
			if err := cmd.Run(); errors.As(err, &ee) {
				wantCode = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			wantCalls := f.take()
			gotOut, gotErr, gotCode := runEngine(sock, tc.in, tc.args...)
			gotCalls := f.take()
			wantOut, wantErr := normalize(out.String()), normalize(errb.String())
			gotErr = typeName.ReplaceAllString(gotErr, "type *T")
			if gotOut != wantOut || gotErr != wantErr || gotCode != wantCode {
				t.Errorf("docker %v:\n--- docker (exit %d)\n%s[stderr]\n%s--- corral (exit %d)\n%s[stderr]\n%s",
					tc.args, wantCode, wantOut, wantErr, gotCode, gotOut, gotErr)
			}
			if strings.Join(gotCalls, "\n") != strings.Join(wantCalls, "\n") {
				t.Errorf("engine calls:\n docker %q\n corral %q", wantCalls, gotCalls)
			}
		})
	}
}
