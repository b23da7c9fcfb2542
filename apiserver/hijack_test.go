package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// serve runs a server over cfg on a fresh unix socket until the test ends
// and answers the socket's path.
func serve(t *testing.T, cfg Config) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "api.sock")
	l, err := ListenUnix(path, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(cfg).Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return path
}

// rawRequest sends a request (plus extra bytes in the same write) on a new
// connection and reads the answer's head.
func rawRequest(t *testing.T, sock, method, target string, hdr map[string]string, extra string) (*net.UnixConn, *http.Response, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: docker\r\n", method, target)
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n" + extra)
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.UnixConn), resp, br
}

var upgrade = map[string]string{"Connection": "Upgrade", "Upgrade": "tcp"}

// TestAttachHalfClose is `echo hello | docker run -i`: stdin bytes sent with
// the request, then a half-close; output goes on after it.
func TestAttachHalfClose(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.attach = func(_ context.Context, _ string, o api.ContainerAttachOptions) error {
		st, err := o.Streams(false)
		if err != nil {
			return err
		}
		if _, err := io.Copy(st.Stdout, st.Stdin); err != nil {
			return err
		}
		_, err = st.Stderr.Write([]byte("stdin closed\n"))
		return err
	}
	sock := serve(t, f.config())
	c, resp, br := rawRequest(t, sock, "POST", "/v1.47/containers/c1/attach?stream=1&stdin=1&stdout=1&stderr=1", upgrade, "hello\n")
	if resp.StatusCode != 101 || resp.Status != "101 UPGRADED" {
		t.Fatalf("status %q, want 101 UPGRADED", resp.Status)
	}
	for k, want := range map[string]string{"Content-Type": "application/vnd.docker.multiplexed-stream",
		"Connection": "Upgrade", "Upgrade": "tcp", "Api-Version": "1.47"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("header %s=%q, want %q", k, got, want)
		}
	}
	if _, err := io.WriteString(c, "more\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, br); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello\nmore\n" || errOut.String() != "stdin closed\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
	if got := f.last(t); got != "ContainerAttach c1 stream=true logs=false in=true out=true err=true keys=" {
		t.Errorf("call %q", got)
	}
}

// TestStdinClose: closing stdin ends a Read blocked on the connection.
func TestStdinClose(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.attach = func(_ context.Context, _ string, o api.ContainerAttachOptions) error {
		st, err := o.Streams(true)
		if err != nil {
			return err
		}
		read := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(st.Stdin)
			read <- err
		}()
		time.Sleep(50 * time.Millisecond)
		if err := st.Stdin.Close(); err != nil {
			return err
		}
		select {
		case err := <-read:
			_, _ = fmt.Fprintf(st.Stdout, "read ended: %v", err)
		case <-time.After(5 * time.Second):
			_, _ = io.WriteString(st.Stdout, "read still blocked")
		}
		return nil
	}
	sock := serve(t, f.config())
	_, resp, br := rawRequest(t, sock, "POST", "/containers/c1/attach?stream=1&stdin=1&stdout=1", upgrade, "")
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.docker.raw-stream" {
		t.Errorf("tty Content-Type %q", ct)
	}
	if out, _ := io.ReadAll(br); string(out) != "read ended: <nil>" {
		t.Errorf("output %q", out)
	}
}

func TestAttachErrors(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.err = errdefs.NotFound(errors.New("No such container: nosuch"))
	sock := serve(t, f.config())
	_, resp, _ := rawRequest(t, sock, "POST", "/v1.47/containers/nosuch/attach?stream=1&stdout=1", upgrade, "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"message":"No such container: nosuch"`) {
		t.Errorf("before the upgrade: %d %s", resp.StatusCode, body)
	}
	// A backend that neither fails nor takes the streams: an empty stream.
	f.err = nil
	_, resp, br := rawRequest(t, sock, "POST", "/v1.47/containers/c1/attach", upgrade, "")
	if rest, _ := io.ReadAll(br); resp.StatusCode != 101 || len(rest) != 0 {
		t.Errorf("no streams: %d %q", resp.StatusCode, rest)
	}
	// A client that does not ask to upgrade gets 200 and the raw stream.
	f.attach = func(_ context.Context, _ string, o api.ContainerAttachOptions) error {
		st, _ := o.Streams(true)
		_, err := io.WriteString(st.Stdout, "raw")
		return err
	}
	_, resp, br = rawRequest(t, sock, "POST", "/v1.41/containers/c1/attach?stdout=1", nil, "")
	if rest, _ := io.ReadAll(br); resp.StatusCode != 200 || string(rest) != "raw" ||
		resp.Header.Get("Content-Type") != "application/vnd.docker.raw-stream" {
		t.Errorf("no upgrade: %d %q %q", resp.StatusCode, rest, resp.Header.Get("Content-Type"))
	}
}

func TestExecStartStreams(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.exec = func(_ context.Context, _ string, o api.ExecStartOptions) error {
		st, err := o.Streams(o.Tty)
		if err != nil {
			return err
		}
		if o.Tty {
			_, err = io.WriteString(st.Stdout, "tty\r\n")
			return err
		}
		_, _ = io.WriteString(st.Stdout, "partial\n")
		return errors.New(`exec: "nosuch": executable file not found in $PATH`)
	}
	sock := serve(t, f.config())
	body := `{"ConsoleSize":[24,80],"Detach":false,"Tty":true}`
	hdr := map[string]string{"Connection": "Upgrade", "Upgrade": "tcp", "Content-Type": "application/json",
		"Content-Length": fmt.Sprint(len(body))}
	_, resp, br := rawRequest(t, sock, "POST", "/v1.47/exec/e1/start", hdr, body)
	if out, _ := io.ReadAll(br); resp.StatusCode != 101 || string(out) != "tty\r\n" {
		t.Errorf("tty exec: %d %q", resp.StatusCode, out)
	}
	body = `{"Detach":false,"Tty":false}`
	hdr["Content-Length"] = fmt.Sprint(len(body))
	_, _, br = rawRequest(t, sock, "POST", "/v1.47/exec/e1/start", hdr, body)
	var out, errOut bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &errOut, br)
	if out.String() != "partial\nexec: \"nosuch\": executable file not found in $PATH\r\n" {
		t.Errorf("error after the upgrade: stdout %q", out.String())
	}
}

// TestWaitFlushesFirst: the 200 and its headers arrive before the
// condition is met; the body when it is.
func TestWaitFlushesFirst(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.waitCh = make(chan container.WaitResponse)
	sock := serve(t, f.config())
	_, resp, _ := rawRequest(t, sock, "POST", "/v1.47/containers/c1/wait?condition=next-exit", nil, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("head: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(resp.Body)
		body <- string(b)
	}()
	select {
	case b := <-body:
		t.Fatalf("body before the condition: %q", b)
	case <-time.After(100 * time.Millisecond):
	}
	f.waitCh <- container.WaitResponse{StatusCode: 7}
	if b := <-body; b != `{"StatusCode":7}`+"\n" {
		t.Errorf("body %q", b)
	}
}

// TestServeShutdown: ending Serve closes hijacked connections and ends
// long requests.
func TestServeShutdown(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.attach = func(_ context.Context, _ string, o api.ContainerAttachOptions) error {
		st, err := o.Streams(false)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, st.Stdin) // ignores ctx: only the close ends it
		return err
	}
	f.waitCh = make(chan container.WaitResponse)
	path := filepath.Join(t.TempDir(), "api.sock")
	l, err := ListenUnix(path, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(f.config()).Serve(ctx, l) }()
	_, _, attachBr := rawRequest(t, path, "POST", "/containers/c1/attach?stdin=1", upgrade, "")
	_, _, waitBr := rawRequest(t, path, "POST", "/containers/c1/wait", nil, "")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	for name, br := range map[string]*bufio.Reader{"attach": attachBr, "wait": waitBr} {
		if _, err := io.ReadAll(br); err != nil {
			t.Errorf("%s connection: %v", name, err)
		}
	}
}
