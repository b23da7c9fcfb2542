package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

func TestResolveHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		flag, corral, docker string
		want                 string
		explicit             bool
	}{
		{"", "", "", api.DefaultHost, false},
		{"", "", "unix:///d.sock", "unix:///d.sock", true},
		{"", "unix:///c.sock", "unix:///d.sock", "unix:///c.sock", true},
		{"unix:///f.sock", "unix:///c.sock", "unix:///d.sock", "unix:///f.sock", true},
	}
	for _, tt := range tests {
		env := map[string]string{"CORRAL_HOST": tt.corral, "DOCKER_HOST": tt.docker}
		got, explicit := ResolveHost(tt.flag, func(k string) string { return env[k] }, api.DefaultHost)
		if got != tt.want || explicit != tt.explicit {
			t.Errorf("ResolveHost(%+v) = %s %v, want %s %v", tt, got, explicit, tt.want, tt.explicit)
		}
	}
}

func TestParseHost(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, network, addr string }{
		{"unix:///run/corral/corral.sock", "unix", "/run/corral/corral.sock"},
		{"tcp://127.0.0.1:2376", "tcp", "127.0.0.1:2376"},
		{"tcp://localhost", "tcp", "localhost:2375"},
		{"", "", ""},
		{"unix://", "", ""},
		{"http://x:1", "", ""},
		{"/run/corral/corral.sock", "", ""},
	}
	for _, tt := range tests {
		network, addr, err := parseHost(tt.in)
		if tt.network == "" {
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("parseHost(%q) = %s %s %v, want an invalid argument", tt.in, network, addr, err)
			}
			continue
		}
		if err != nil || network != tt.network || addr != tt.addr {
			t.Errorf("parseHost(%q) = %s %s %v, want %s %s", tt.in, network, addr, err, tt.network, tt.addr)
		}
	}
}

// recorder is a daemon that advertises version (none if "") and notes the
// requests it is asked for, with their bodies; it refuses HEAD /_ping when
// headFails and, as dockerd does, paths of a version newer than its own,
// unless lenient (as podman, which serves any).
type recorder struct {
	version   string
	headFails bool
	lenient   bool
	// oldWording refuses a too new version as dockerd before 17.06 did,
	// naming no Api-Version.
	oldWording bool
	mu         sync.Mutex
	paths      []string
	bodies     []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.paths = append(rec.paths, r.Method+" "+r.URL.Path)
	rec.bodies = append(rec.bodies, string(body))
	rec.mu.Unlock()
	if rec.version != "" && !rec.oldWording {
		w.Header().Set("Api-Version", rec.version)
	}
	if r.URL.Path == "/_ping" && r.Method == http.MethodHead && rec.headFails {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	v, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v"), "/")
	if rec.version != "" && !rec.lenient && r.URL.Path != "/_ping" && compareVersions(v, rec.version) > 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		if rec.oldWording {
			_, _ = fmt.Fprintf(w, `{"message":"client is newer than server (client API version: %s, server API version: %s)"}`, v, rec.version)
			return
		}
		_, _ = fmt.Fprintf(w, `{"message":"client version %s is too new. Maximum supported API version is %s"}`, v, rec.version)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{}`)
}

func serveHandler(t *testing.T, h http.Handler) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	c, err := New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVersionNegotiation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		advertised string
		headFails  bool
		lenient    bool
		want       []string
	}{
		// An older daemon refuses the client's version: ping, then its own.
		{"1.40", false, false, []string{"GET /v" + api.APIVersion + "/info", "HEAD /_ping", "GET /v1.40/info", "GET /v1.40/info"}},
		// A newer one, or one that names none, takes it: no ping at all.
		{"1.99", false, false, []string{"GET /v" + api.APIVersion + "/info", "GET /v" + api.APIVersion + "/info"}},
		{"", false, false, []string{"GET /v" + api.APIVersion + "/info", "GET /v" + api.APIVersion + "/info"}},
		{"1.44", true, false, []string{"GET /v" + api.APIVersion + "/info", "HEAD /_ping", "GET /_ping", "GET /v1.44/info", "GET /v1.44/info"}},
		// One that takes any version is then spoken to at the one it names.
		{"1.41", false, true, []string{"GET /v" + api.APIVersion + "/info", "GET /v1.41/info"}},
	}
	for _, tt := range tests {
		rec := &recorder{version: tt.advertised, headFails: tt.headFails, lenient: tt.lenient}
		c := serveHandler(t, rec)
		for range 2 {
			if _, err := c.Info(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if got := strings.Join(rec.paths, ","); got != strings.Join(tt.want, ",") {
			t.Errorf("advertised %q: requests %s, want %s", tt.advertised, got, strings.Join(tt.want, ","))
		}
	}
}

func TestErrorDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		body   string
		want   string
		class  error
	}{
		{404, `{"message":"No such image: nope:latest"}`, "Error response from daemon: No such image: nope:latest", errdefs.ErrNotFound},
		{409, `{"message":"conflict: unable to remove"}`, "Error response from daemon: conflict: unable to remove", errdefs.ErrConflict},
		{400, `{"message":"invalid filter 'x'"}`, "Error response from daemon: invalid filter 'x'", errdefs.ErrInvalidArgument},
		{401, `{"message":"login failed"}`, "Error response from daemon: login failed", errdefs.ErrUnauthorized},
		{501, `{"message":"no"}`, "Error response from daemon: no", errdefs.ErrNotImplemented},
		{500, "plain text failure\n", "Error response from daemon: plain text failure", nil},
		{503, "", "Error response from daemon: Service Unavailable", errdefs.ErrUnavailable},
	}
	for _, tt := range tests {
		c := serveHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Api-Version", api.APIVersion)
			if r.URL.Path == "/_ping" {
				return
			}
			w.WriteHeader(tt.status)
			_, _ = io.WriteString(w, tt.body)
		}))
		_, err := c.ImageInspect(context.Background(), "nope")
		var re *ResponseError
		if err == nil || err.Error() != tt.want || !errors.As(err, &re) || re.StatusCode != tt.status {
			t.Errorf("status %d: %v, want %q", tt.status, err, tt.want)
		}
		if tt.class != nil && !errors.Is(err, tt.class) {
			t.Errorf("status %d: %v is not %v", tt.status, err, tt.class)
		}
	}
}

func TestConnectErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	absent, err := New("unix://" + filepath.Join(dir, "absent.sock"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = absent.Ping(context.Background())
	if !IsDaemonAbsent(err) || !errors.Is(err, errdefs.ErrUnavailable) ||
		err.Error() != "Cannot connect to the corral daemon at unix://"+dir+"/absent.sock. Is the daemon running?" {
		t.Errorf("absent socket: %v", err)
	}
	// A socket left behind by a daemon that died refuses connections.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	c, _ := New("unix://" + stale)
	if _, err := c.ImageList(context.Background(), api.ImageListOptions{}); !IsDaemonAbsent(err) {
		t.Errorf("stale socket: %v", err)
	}
	// A daemon answering an error is not absent.
	up := serveHandler(t, &recorder{version: "1.47", headFails: true})
	up2 := serveHandler(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	if _, err := up2.Ping(context.Background()); err == nil || IsDaemonAbsent(err) {
		t.Errorf("daemon answering 500: %v", err)
	}
	if _, err := up.Ping(context.Background()); err != nil {
		t.Errorf("ping with GET fallback: %v", err)
	}
}

func TestConnectErrorPermission(t *testing.T) {
	t.Parallel()
	err := error(&ConnectError{Host: "unix:///run/corral/corral.sock",
		Err: &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)}})
	want := "permission denied while trying to connect to the corral daemon socket at unix:///run/corral/corral.sock: dial unix: connect: permission denied"
	if err.Error() != want || IsDaemonAbsent(err) {
		t.Errorf("got %q (absent %v), want %q", err, IsDaemonAbsent(err), want)
	}
}

// TestVersionFallback is a first request at the client's version refused by
// an older daemon: the request is made again for the version negotiated
// (its body too), and a body that cannot be sent twice waits for the ping.
func TestVersionFallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	apiV := "/v" + api.APIVersion

	rec := &recorder{version: "1.24"}
	c := serveHandler(t, rec)
	opts := api.ContainerCreateOptions{Config: &container.Config{Image: "busybox"}, HostConfig: &container.HostConfig{AutoRemove: true}}
	if _, err := c.ContainerCreate(ctx, opts); err != nil {
		t.Fatal(err)
	}
	want := "POST " + apiV + "/containers/create,HEAD /_ping,POST /v1.24/containers/create"
	if got := strings.Join(rec.paths, ","); got != want {
		t.Errorf("create: requests %s, want %s", got, want)
	}
	if first, last := rec.bodies[0], rec.bodies[2]; !strings.Contains(first, `"AutoRemove":true`) || !strings.Contains(last, `"AutoRemove":false`) {
		t.Errorf("create bodies: %s then %s, want AutoRemove left out at 1.24", first, last)
	}

	rec = &recorder{version: "1.40"}
	c = serveHandler(t, rec)
	opts.Platform = "linux/amd64"
	_, err := c.ContainerCreate(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "requires API version 1.41, but the daemon API version is 1.40") {
		t.Errorf("create with a platform at 1.40: %v", err)
	}
	if _, err := c.NetworkCreate(ctx, network.CreateRequest{Name: "n1"}); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.bodies[len(rec.bodies)-1], `"Name":"n1"`; !strings.Contains(got, want) {
		t.Errorf("network create body sent at 1.40: %q, want it whole again", got)
	}

	rec = &recorder{version: "1.40"}
	c = serveHandler(t, rec)
	pr, pw := io.Pipe()
	go func() { _, _ = io.WriteString(pw, "tar"); _ = pw.Close() }()
	rc, err := c.ImageLoad(ctx, pr, api.ImageLoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = rc.Close()
	if got, want := strings.Join(rec.paths, ","), "HEAD /_ping,POST /v1.40/images/load"; got != want || rec.bodies[1] != "tar" {
		t.Errorf("load: requests %s with body %q, want %s with the stream", got, rec.bodies[1], want)
	}

	// The answer to a HEAD has no body to say why: its Api-Version, older
	// than the one sent, does.
	rec = &recorder{version: "1.41"}
	c = serveHandler(t, rec)
	_, err = c.ContainerStatPath(ctx, "abc", "/x")
	want = "HEAD " + apiV + "/containers/abc/archive,HEAD /_ping,HEAD /v1.41/containers/abc/archive"
	if got := strings.Join(rec.paths, ","); got != want || errdefs.IsInvalidArgument(err) {
		t.Errorf("stat path: requests %s (%v), want %s", got, err, want)
	}

	// dockerd before 17.06 worded its refusal otherwise.
	rec = &recorder{version: "1.24", oldWording: true}
	c = serveHandler(t, rec)
	if _, err := c.NetworkCreate(ctx, network.CreateRequest{Name: "n1"}); err != nil {
		t.Fatalf("network create against an old daemon: %v", err)
	}
	if got, want := rec.paths[len(rec.paths)-1], "POST /v1.24/networks/create"; got != want {
		t.Errorf("requests %v, want the last %s", rec.paths, want)
	}
}

// TestConnect: an early dial tells an absent daemon, and a present
// daemon's connection serves the first request, with no ping before it.
func TestConnect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	absent, err := New("unix://" + filepath.Join(dir, "none.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := absent.Connect(ctx); !IsDaemonAbsent(err) {
		t.Errorf("Connect to no socket: %v, want a daemon-absent error", err)
	}

	sock := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{version: api.APIVersion}
	var mu sync.Mutex
	conns := 0
	srv := &http.Server{Handler: rec, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	c, err := New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "GET /v" + api.APIVersion + "/info,GET /v" + api.APIVersion + "/info"
	if got := strings.Join(rec.paths, ","); conns != 1 || got != want {
		t.Errorf("after Connect: %d connections, requests %s; want 1 connection, requests %s", conns, got, want)
	}
	_ = c.Close()
}

// TestEarlyConnectionAge: an early connection older than earlyMaxAge is
// closed rather than handed to the first request.
func TestEarlyConnectionAge(t *testing.T) {
	t.Parallel()
	for _, age := range []time.Duration{0, earlyMaxAge + time.Second} {
		ours, theirs := net.Pipe()
		e := &early{conn: ours, at: time.Now().Add(-age)}
		got := e.take()
		if (got != nil) != (age == 0) {
			t.Errorf("a connection %v old: taken %v", age, got != nil)
		}
		if age > 0 {
			if _, err := theirs.Read(make([]byte, 1)); err == nil {
				t.Error("the stale connection was not closed")
			}
		}
		if e.take() != nil {
			t.Errorf("a connection %v old: taken twice", age)
		}
		_ = theirs.Close()
		_ = ours.Close()
	}
}
