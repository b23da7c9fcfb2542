package e2e_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// registryServer is Debian's docker-registry (distribution 2.8), started
// by the test on 127.0.0.1 with storage in the test's own directory.
type registryServer struct {
	addr    string // host:port
	storage string // its filesystem storage root
}

const registryConfig = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`

// startRegistry starts a registry that the test's cleanup stops.
func startRegistry(t *testing.T) *registryServer {
	t.Helper()
	requirePeerTools(t, "docker-registry")
	dir := t.TempDir()
	r := &registryServer{addr: freeAddr(t), storage: filepath.Join(dir, "storage")}
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(registryConfig, r.storage, r.addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	r.waitReady(t, logf.Name())
	return r
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (r *registryServer) waitReady(t *testing.T, logPath string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + r.addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(logPath)
	t.Fatalf("docker-registry did not answer on %s:\n%s", r.addr, log)
}

// blobData is the file in which the registry keeps blob d.
func (r *registryServer) blobData(d digest.Digest) string {
	return filepath.Join(r.storage, "docker/registry/v2/blobs", d.Algorithm().String(),
		d.Encoded()[:2], d.Encoded(), "data")
}

// push uploads the image's blobs and manifest as repo:tag and returns the
// manifest's descriptor.
func (r *registryServer) push(t *testing.T, repo, tag string, img *testImage) ocispec.Descriptor {
	t.Helper()
	for _, b := range img.blobs {
		r.pushBlob(t, repo, b)
	}
	data, desc := img.manifest(t)
	r.pushManifest(t, repo, tag, desc.MediaType, data)
	return desc
}

// pushBlob uploads a blob with a monolithic POST + PUT.
func (r *registryServer) pushBlob(t *testing.T, repo string, data []byte) {
	t.Helper()
	resp := r.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", "", nil, http.StatusAccepted)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("upload location: %v", err)
	}
	q := loc.Query()
	q.Set("digest", digest.FromBytes(data).String())
	loc.RawQuery = q.Encode()
	r.do(t, http.MethodPut, loc.RequestURI(), "application/octet-stream", data, http.StatusCreated)
}

// pushManifest puts a manifest or index as repo:ref.
func (r *registryServer) pushManifest(t *testing.T, repo, ref, mediaType string, data []byte) {
	t.Helper()
	r.do(t, http.MethodPut, "/v2/"+repo+"/manifests/"+ref, mediaType, data, http.StatusCreated)
}

func (r *registryServer) do(t *testing.T, method, path, ctype string, body []byte, want int) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+r.addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, msg)
	}
	return resp
}

// faultProxy is a reverse proxy in front of the registry that answers the
// GETs of one blob with fault instead.
type faultProxy struct {
	addr   string
	proxy  *httputil.ReverseProxy
	blob   digest.Digest
	fault  func(w http.ResponseWriter, r *http.Request, p *httputil.ReverseProxy)
	healed atomic.Bool // forward everything as it is
}

// startFaultProxy starts a proxy to reg on a loopback port; the test's
// cleanup stops it.
func startFaultProxy(t *testing.T, reg *registryServer, blob digest.Digest,
	fault func(w http.ResponseWriter, r *http.Request, p *httputil.ReverseProxy)) *faultProxy {
	t.Helper()
	target := &url.URL{Scheme: "http", Host: reg.addr}
	fp := &faultProxy{proxy: httputil.NewSingleHostReverseProxy(target), blob: blob, fault: fault}
	srv := httptest.NewServer(fp)
	t.Cleanup(srv.Close)
	fp.addr = strings.TrimPrefix(srv.URL, "http://")
	return fp
}

// heal makes the proxy forward everything unchanged from now on.
func (fp *faultProxy) heal() { fp.healed.Store(true) }

func (fp *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !fp.healed.Load() && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+fp.blob.String()) {
		fp.fault(w, r, fp.proxy)
		return
	}
	fp.proxy.ServeHTTP(w, r)
}

// truncateBody is a fault: the blob is served with its full
// Content-Length but only the first half of its bytes (a Range request
// is answered from the start, so a resumed download gets no further).
func truncateBody(w http.ResponseWriter, r *http.Request, p *httputil.ReverseProxy) {
	r.Header.Del("Range")
	p.ServeHTTP(&cutWriter{ResponseWriter: w, atCut: func() {}}, r)
}

// stallBody returns a fault that serves the first half of the blob, then
// tells started (once) and holds the connection until the client goes.
func stallBody(started chan<- struct{}) func(http.ResponseWriter, *http.Request, *httputil.ReverseProxy) {
	var once sync.Once
	return func(w http.ResponseWriter, r *http.Request, p *httputil.ReverseProxy) {
		r.Header.Del("Range")
		p.ServeHTTP(&cutWriter{ResponseWriter: w, atCut: func() {
			once.Do(func() { close(started) })
			<-r.Context().Done()
		}}, r)
	}
}

// cutWriter passes on the headers and half of the bytes the
// Content-Length announces; there it calls atCut, then drops the
// connection.
type cutWriter struct {
	http.ResponseWriter
	left  int64
	atCut func()
}

func (c *cutWriter) WriteHeader(code int) {
	n, _ := strconv.ParseInt(c.Header().Get("Content-Length"), 10, 64)
	c.left = n / 2
	c.ResponseWriter.WriteHeader(code)
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	c.left -= int64(len(b))
	n, err := c.ResponseWriter.Write(b)
	if err == nil && c.left == 0 {
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		c.atCut()
		panic(http.ErrAbortHandler) // close the connection mid-body
	}
	return n, err
}
