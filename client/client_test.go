package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

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
// paths it is asked for; it refuses HEAD /_ping when headFails.
type recorder struct {
	version   string
	headFails bool
	mu        sync.Mutex
	paths     []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.paths = append(rec.paths, r.Method+" "+r.URL.Path)
	rec.mu.Unlock()
	if rec.version != "" {
		w.Header().Set("Api-Version", rec.version)
	}
	if r.URL.Path == "/_ping" && r.Method == http.MethodHead && rec.headFails {
		w.WriteHeader(http.StatusMethodNotAllowed)
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
		want       []string
	}{
		{"1.40", false, []string{"HEAD /_ping", "GET /v1.40/info", "GET /v1.40/info"}},
		{"1.99", false, []string{"HEAD /_ping", "GET /v" + api.APIVersion + "/info", "GET /v" + api.APIVersion + "/info"}},
		{"", false, []string{"HEAD /_ping", "GET /v1.24/info", "GET /v1.24/info"}},
		{"1.44", true, []string{"HEAD /_ping", "GET /_ping", "GET /v1.44/info", "GET /v1.44/info"}},
	}
	for _, tt := range tests {
		rec := &recorder{version: tt.advertised, headFails: tt.headFails}
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
