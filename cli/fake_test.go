package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// fakeAPI is an in-memory ImageAPI with a fixed set of images; it records
// the calls it gets.
type fakeAPI struct {
	mu     sync.Mutex
	images []image.Summary
	calls  []string
	// stream is the JSON messages answered by pull, push, load, import.
	stream []jsonstream.Message
	// lastAuth is the RegistryAuth of the last pull or push.
	lastAuth string
	loaded   []byte
	closed   bool
}

const (
	busyboxID  = "sha256:6fd955f66c231c1a946653170d096a28ac2b2179a6a1f05c2ef0a4d1ca0e8ec1"
	danglingID = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	labeledID  = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	busyboxDig = "sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7"
)

func newFakeAPI() *fakeAPI {
	created := time.Date(2024, 9, 26, 21, 31, 42, 0, time.UTC).Unix()
	return &fakeAPI{images: []image.Summary{
		{ID: busyboxID, RepoTags: []string{"busybox:latest", "localhost:5000/busybox:v1"},
			RepoDigests: []string{"busybox@" + busyboxDig}, Created: created, Size: 4261550,
			SharedSize: -1, Containers: -1},
		{ID: labeledID, RepoTags: []string{"web:1.0"}, Created: created - 86400*30, Size: 123456789,
			Labels: map[string]string{"app": "web"}, SharedSize: -1, Containers: -1},
		{ID: danglingID, Created: created - 86400*400, Size: 1024, SharedSize: -1, Containers: -1},
	}}
}

// record notes a call; it takes f.mu until the call returns (unlock).
func (f *fakeAPI) record(format string, args ...any) (unlock func()) {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.mu.Unlock
}

// locked runs fn with f.mu held, for tests that change or read f while a
// server goroutine may use it.
func (f *fakeAPI) locked(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func notFound(ref string) error {
	if !strings.Contains(ref, ":") && !strings.Contains(ref, "@") {
		ref += ":latest"
	}
	return errdefs.NotFound(fmt.Errorf("Error response from daemon: No such image: %s", ref))
}

// find looks an image up by repo:tag, full ID or ID prefix.
func (f *fakeAPI) find(ref string) (int, error) {
	for i, img := range f.images {
		if strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), strings.TrimPrefix(ref, "sha256:")) && len(ref) >= 4 {
			return i, nil
		}
		named, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			continue
		}
		want := reference.FamiliarString(reference.TagNameOnly(named))
		for _, t := range img.RepoTags {
			if t == want {
				return i, nil
			}
		}
	}
	return -1, notFound(ref)
}

func (f *fakeAPI) stream0() io.ReadCloser {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, m := range f.stream {
		_ = enc.Encode(m)
	}
	return io.NopCloser(&buf)
}

func (f *fakeAPI) ImagePull(_ context.Context, ref string, o api.ImagePullOptions) (io.ReadCloser, error) {
	defer f.record("pull %s platform=%s", ref, o.Platform)()
	f.lastAuth = o.RegistryAuth
	return f.stream0(), nil
}

func (f *fakeAPI) ImagePush(_ context.Context, ref string, o api.ImagePushOptions) (io.ReadCloser, error) {
	defer f.record("push %s", ref)()
	f.lastAuth = o.RegistryAuth
	return f.stream0(), nil
}

func (f *fakeAPI) ImageList(_ context.Context, o api.ImageListOptions) ([]image.Summary, error) {
	defer f.record("list all=%v filters=%v", o.All, o.Filters.Keys())()
	if err := o.Filters.Validate("dangling", "reference", "label", "before", "since", "until"); err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("Error response from daemon: %w", err))
	}
	var out []image.Summary
	for _, img := range f.images {
		if f.keep(img, o.Filters) {
			out = append(out, img)
		}
	}
	return out, nil
}

func (f *fakeAPI) keep(img image.Summary, filters api.Filters) bool {
	dangling := len(img.RepoTags) == 0
	for _, v := range filters.Get("dangling") {
		if (v == "true") != dangling {
			return false
		}
	}
	for _, pattern := range filters.Get("reference") {
		ok := false
		for _, t := range img.RepoTags {
			name, _, _ := strings.Cut(t, ":")
			if m, _ := path.Match(pattern, name); m {
				ok = true
			}
			if m, _ := path.Match(pattern, t); m {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	for _, l := range filters.Get("label") {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := img.Labels[k]
		if !ok || hasV && got != v {
			return false
		}
	}
	return true
}

func (f *fakeAPI) ImageInspect(_ context.Context, ref string) (image.InspectResponse, error) {
	defer f.record("inspect %s", ref)()
	i, err := f.find(ref)
	if err != nil {
		return image.InspectResponse{}, err
	}
	img := f.images[i]
	return image.InspectResponse{
		ID: img.ID, RepoTags: img.RepoTags, RepoDigests: img.RepoDigests,
		Created: time.Unix(img.Created, 0).UTC().Format(time.RFC3339Nano), Architecture: "amd64", Os: "linux",
		Size: img.Size, RootFS: image.RootFS{Type: "layers", Layers: []string{"sha256:" + strings.Repeat("1", 64)}},
		Comment: "<imported>",
	}, nil
}

func (f *fakeAPI) ImageHistory(_ context.Context, ref string) ([]image.HistoryResponseItem, error) {
	defer f.record("history %s", ref)()
	i, err := f.find(ref)
	if err != nil {
		return nil, err
	}
	img := f.images[i]
	return []image.HistoryResponseItem{
		{ID: img.ID, Created: img.Created, CreatedBy: "/bin/sh -c #(nop)  CMD [\"sh\"]", Tags: img.RepoTags},
		{ID: "<missing>", Created: img.Created - 1, Size: img.Size,
			CreatedBy: "/bin/sh -c #(nop) ADD file:a2be7b8f8f7a9c4f4f3c0d9ea1a1b3d1b0d1e2e3f4 in / ", Comment: "imported"},
	}, nil
}

func (f *fakeAPI) ImageTag(_ context.Context, source, target string) error {
	defer f.record("tag %s %s", source, target)()
	if _, err := f.find(source); err != nil {
		return err
	}
	return nil
}

func (f *fakeAPI) ImageRemove(_ context.Context, ref string, o api.ImageRemoveOptions) ([]image.DeleteResponse, error) {
	defer f.record("rm %s force=%v prune=%v", ref, o.Force, o.PruneChildren)()
	i, err := f.find(ref)
	if err != nil {
		return nil, err
	}
	if ref == "localhost:5000/busybox:v1" {
		return []image.DeleteResponse{{Untagged: ref}}, nil
	}
	return []image.DeleteResponse{{Untagged: f.images[i].RepoTags[0]}, {Deleted: f.images[i].ID}}, nil
}

func (f *fakeAPI) ImagesPrune(_ context.Context, filters api.Filters) (image.PruneReport, error) {
	defer f.record("prune dangling=%v", filters.Get("dangling"))()
	if filters.Get("dangling")[0] == "true" {
		return image.PruneReport{ImagesDeleted: []image.DeleteResponse{{Deleted: danglingID}}, SpaceReclaimed: 1024}, nil
	}
	return image.PruneReport{}, nil
}

func (f *fakeAPI) ImageLoad(_ context.Context, r io.Reader, o api.ImageLoadOptions) (io.ReadCloser, error) {
	defer f.record("load quiet=%v", o.Quiet)()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	f.loaded = b
	return f.stream0(), nil
}

func (f *fakeAPI) ImageSave(_ context.Context, refs []string) (io.ReadCloser, error) {
	defer f.record("save %v", refs)()
	for _, r := range refs {
		if _, err := f.find(r); err != nil {
			return nil, err
		}
	}
	return io.NopCloser(strings.NewReader("TARDATA")), nil
}

func (f *fakeAPI) ImageImport(_ context.Context, r io.Reader, ref string, o api.ImageImportOptions) (io.ReadCloser, error) {
	defer f.record("import %s changes=%q message=%q", ref, o.Changes, o.Message)()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	f.loaded = b
	return f.stream0(), nil
}

func (f *fakeAPI) RegistryLogin(_ context.Context, auth registry.AuthConfig) (registry.AuthResponse, error) {
	defer f.record("login %s %s", auth.ServerAddress, auth.Username)()
	if auth.Password != "secret" {
		return registry.AuthResponse{}, errdefs.Unauthorized(errors.New("Error response from daemon: login attempt to http://" +
			auth.ServerAddress + "/v2/ failed with status: 401 Unauthorized"))
	}
	return registry.AuthResponse{Status: "Login Succeeded"}, nil
}

func (f *fakeAPI) DiskUsage(context.Context) (system.DiskUsage, error) {
	defer f.record("df")()
	items := make([]image.Summary, len(f.images))
	var total int64
	for i, img := range f.images {
		img.SharedSize = 0
		img.Containers = 0
		items[i] = img
		total += img.Size
	}
	return system.DiskUsage{ImageUsage: &image.DiskUsage{
		Items: items, TotalCount: int64(len(items)), TotalSize: total, Reclaimable: total,
	}}, nil
}

func (f *fakeAPI) Close() error {
	f.closed = true
	return nil
}

// fakeCreds is an in-memory Credentials.
type fakeCreds struct {
	m     map[string][2]string
	saved int
}

func (c *fakeCreds) Credentials(host string) (string, string, error) {
	v := c.m[host]
	return v[0], v[1], nil
}

func (c *fakeCreds) Set(host, user, secret string) {
	if c.m == nil {
		c.m = map[string][2]string{}
	}
	c.m[host] = [2]string{user, secret}
}

func (c *fakeCreds) Remove(host string) bool {
	_, ok := c.m[host]
	delete(c.m, host)
	return ok
}

func (c *fakeCreds) Save() error  { c.saved++; return nil }
func (c *fakeCreds) Path() string { return "/home/u/.config/corral/auth.json" }

// run runs the command line against f and creds with stdin in and returns
// stdout, stderr and the exit code.
func run(f *fakeAPI, creds *fakeCreds, in string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	if creds == nil {
		creds = &fakeCreds{}
	}
	code := Main(args, Options{
		Connect:     func(context.Context, Globals) (ImageAPI, error) { return f, nil },
		Credentials: func() (Credentials, error) { return creds, nil },
		In:          strings.NewReader(in),
		Out:         &out,
		Err:         &errb,
	})
	return out.String(), errb.String(), code
}
