package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
)

func TestProgressTerminal(t *testing.T) {
	var out bytes.Buffer
	d := &display{out: &out, terminal: true, width: 120, now: func() time.Time { return time.Unix(110, 0) }}
	var stream bytes.Buffer
	enc := json.NewEncoder(&stream)
	for _, m := range []jsonstream.Message{
		{Status: "Pulling from library/busybox", ID: "latest"},
		{Status: "Pulling fs layer", ID: "aaa", Progress: &jsonstream.Progress{}},
		{Status: "Pulling fs layer", ID: "bbb", Progress: &jsonstream.Progress{}},
		{Status: "Downloading", ID: "aaa", Progress: &jsonstream.Progress{Current: 500, Total: 1000, Start: 100}},
		{Status: "Pull complete", ID: "bbb", Progress: &jsonstream.Progress{}},
		{Status: "Digest: sha256:x"},
	} {
		_ = enc.Encode(m)
	}
	if err := d.run(context.Background(), &stream); err != nil {
		t.Fatal(err)
	}
	bar := "[" + strings.Repeat("=", 25) + ">" + strings.Repeat(" ", 25) + "] " + "    500B/1kB 10s"
	want := "latest: Pulling from library/busybox\n" +
		"\n\x1b[1A\x1b[2K\raaa: Pulling fs layer \r\x1b[1B" +
		"\n\x1b[1A\x1b[2K\rbbb: Pulling fs layer \r\x1b[1B" +
		"\x1b[2A\x1b[2K\raaa: Downloading " + bar + "\r\x1b[2B" +
		"\x1b[1A\x1b[2K\rbbb: Pull complete \r\x1b[1B" +
		"Digest: sha256:x\n"
	if got := out.String(); got != want {
		t.Errorf("terminal display:\n got %q\nwant %q", got, want)
	}
}

func TestProgressError(t *testing.T) {
	f := newFakeAPI()
	f.stream = []jsonstream.Message{{Status: "x"}, {Error: &jsonstream.Error{Message: "boom"}}, {Status: "never"}}
	out, errOut, code := run(f, nil, "", "pull", "busybox")
	if code != 1 || out != "Using default tag: latest\nx\n" || errOut != "boom\n" {
		t.Errorf("pull with error: exit %d out %q err %q", code, out, errOut)
	}
}

func TestSaveRefusesTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	f := newFakeAPI()
	var errb bytes.Buffer
	code := Main([]string{"save", "busybox"}, Options{
		Connect: func(context.Context, Globals) (ImageAPI, error) { return f, nil },
		Out:     tty, Err: &errb,
	})
	if code != 1 || errb.String() != "cowardly refusing to save to a terminal. Use the -o flag or redirect\n" {
		t.Errorf("save to a terminal: exit %d, %q", code, errb.String())
	}
	if len(f.calls) != 0 {
		t.Errorf("the engine was called: %v", f.calls)
	}
}

func TestSaveToFile(t *testing.T) {
	f := newFakeAPI()
	path := filepath.Join(t.TempDir(), "out.tar")
	if _, errOut, code := run(f, nil, "", "save", "-o", path, "busybox"); code != 0 {
		t.Fatalf("save: exit %d %s", code, errOut)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if st.Mode().Perm() != 0o600 || string(data) != "TARDATA" {
		t.Errorf("saved %v %q", st.Mode(), data)
	}
	// A failed save leaves neither the file nor a temporary one.
	failed := filepath.Join(t.TempDir(), "failed.tar")
	if _, _, code := run(f, nil, "", "save", "-o", failed, "nope"); code != 1 {
		t.Errorf("save of a missing image: exit %d", code)
	}
	if ents, _ := os.ReadDir(filepath.Dir(failed)); len(ents) != 0 {
		t.Errorf("failed save left %v", ents)
	}
}

func TestStdinArchives(t *testing.T) {
	f := newFakeAPI()
	f.stream = []jsonstream.Message{{Stream: "Loaded image: busybox:latest\n"}}
	out, _, code := run(f, nil, "ARCHIVE", "load")
	if code != 0 || out != "Loaded image: busybox:latest\n" || string(f.loaded) != "ARCHIVE" {
		t.Errorf("load from stdin: exit %d %q %q", code, out, f.loaded)
	}
	if f.calls[0] != "load quiet=true" {
		t.Errorf("load off a terminal should ask for quiet output: %v", f.calls)
	}
	f.stream = []jsonstream.Message{{Status: busyboxID}}
	f.calls = nil
	out, _, code = run(f, nil, "ROOTFS", "import", "--change", "ENV A=1", "-c", "CMD sh", "-", "x:1")
	if code != 0 || out != busyboxID+"\n" || string(f.loaded) != "ROOTFS" ||
		f.calls[0] != `import x:1 changes=["ENV A=1" "CMD sh"] message=""` {
		t.Errorf("import from stdin: exit %d %q %v", code, out, f.calls)
	}
}

func TestConnectIsLazy(t *testing.T) {
	connected := 0
	f := newFakeAPI()
	opts := Options{Connect: func(context.Context, Globals) (ImageAPI, error) {
		connected++
		return f, nil
	}, Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}
	for _, args := range [][]string{{"images", "--help"}, {"tag", "x"}, {"bogus"}, {"image"}, {"pull", "--nope"}} {
		Main(args, opts)
	}
	if connected != 0 {
		t.Errorf("Connect called %d times for commands that need no engine", connected)
	}
	if Main([]string{"--data-root", "/x", "images", "-q"}, opts) != 0 || connected != 1 || !f.closed {
		t.Errorf("images: connected %d closed %v", connected, f.closed)
	}
	var g Globals
	opts.Connect = func(_ context.Context, got Globals) (ImageAPI, error) {
		g = got
		return nil, errors.New("Cannot connect to the engine")
	}
	var errb bytes.Buffer
	opts.Err = &errb
	if code := Main([]string{"--data-root=/srv/c", "images"}, opts); code != 1 || g.DataRoot != "/srv/c" ||
		errb.String() != "Cannot connect to the engine\n" {
		t.Errorf("connect failure: exit %d globals %+v err %q", code, g, errb.String())
	}
}

// TestHostFlag: -H/--host is given before the command, as docker's, and
// does not clash with history's own -H.
func TestHostFlag(t *testing.T) {
	f := newFakeAPI()
	var g Globals
	opts := Options{Connect: func(_ context.Context, got Globals) (ImageAPI, error) {
		g = got
		return f, nil
	}, Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}
	for _, args := range [][]string{
		{"-H", "unix:///x.sock", "images", "-q"},
		{"--host=unix:///x.sock", "image", "history", "-H=false", "busybox"},
		{"--data-root", "/d", "-H", "unix:///x.sock", "history", "-H", "busybox"},
	} {
		g = Globals{}
		if code := Main(args, opts); code != 0 || g.Host != "unix:///x.sock" {
			t.Errorf("%v: exit %d, globals %+v", args, code, g)
		}
	}
	var errb bytes.Buffer
	opts.Err = &errb
	if code := Main([]string{"images", "-H", "unix:///x.sock"}, opts); code != 125 || !strings.Contains(errb.String(), "unknown shorthand flag: 'H'") {
		t.Errorf("-H after the command: exit %d, %q", code, errb.String())
	}
}

func TestPruneConfirm(t *testing.T) {
	f := newFakeAPI()
	out, _, code := run(f, nil, "n\n", "image", "prune")
	if code != 0 || out != pruneDanglingWarning+" [y/N] " || len(f.calls) != 0 {
		t.Errorf("prune answered no: exit %d %q %v", code, out, f.calls)
	}
	out, _, code = run(f, nil, "y\n", "image", "prune", "--filter", "until=24h")
	want := pruneDanglingWarning + " [y/N] Deleted Images:\ndeleted: " + danglingID + "\n\nTotal reclaimed space: 1.024kB\n"
	if code != 0 || out != want {
		t.Errorf("prune answered yes: exit %d\n got %q\nwant %q", code, out, want)
	}
}

func TestLogin(t *testing.T) {
	f := newFakeAPI()
	creds := &fakeCreds{}
	out, errOut, code := run(f, creds, "secret\n", "login", "-u", "me", "--password-stdin", "https://reg.example:5000/v2/")
	if code != 0 || out != "Login Succeeded\n" || creds.m["reg.example:5000"] != [2]string{"me", "secret"} || creds.saved != 1 {
		t.Fatalf("login: exit %d %q %q %v", code, out, errOut, creds.m)
	}
	if !strings.Contains(errOut, "stored unencrypted in '/home/u/.config/corral/auth.json'") {
		t.Errorf("login warning: %q", errOut)
	}
	// The stored credentials go with a push to that registry.
	if _, _, code := run(f, creds, "", "push", "reg.example:5000/app:1"); code != 0 {
		t.Fatal("push failed")
	}
	raw, _ := base64.URLEncoding.DecodeString(f.lastAuth)
	var auth registry.AuthConfig
	if err := json.Unmarshal(raw, &auth); err != nil || auth.Username != "me" || auth.Password != "secret" ||
		auth.ServerAddress != "reg.example:5000" {
		t.Errorf("X-Registry-Auth %s: %+v %v", raw, auth, err)
	}
	// A wrong password stores nothing.
	out, errOut, code = run(f, creds, "", "login", "-u", "me", "-p", "wrong", "other:5000")
	if code != 1 || out != "" || creds.m["other:5000"] != [2]string{} ||
		errOut != "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"+
			"Error response from daemon: login attempt to http://other:5000/v2/ failed with status: 401 Unauthorized\n" {
		t.Errorf("bad login: exit %d %q %q", code, out, errOut)
	}
	out, _, code = run(f, creds, "", "logout", "reg.example:5000")
	if code != 0 || out != "Removing login credentials for reg.example:5000\n" || len(creds.m) != 0 {
		t.Errorf("logout: exit %d %q %v", code, out, creds.m)
	}
}

func TestServerHost(t *testing.T) {
	for in, want := range map[string]string{
		"": "docker.io", "docker.io": "docker.io", "https://index.docker.io/v1/": "docker.io",
		"localhost:5000": "localhost:5000", "http://localhost:5000/v2/": "localhost:5000",
		"reg.example/path": "reg.example", "https://[::1]:5000": "[::1]:5000",
	} {
		if _, got := serverHost(in); got != want {
			t.Errorf("serverHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	for in, want := range map[string]string{
		"linux": "linux//", "linux/amd64": "linux/amd64/", "Linux/ARM64/v8": "linux/arm64/v8", "arm64": "linux/arm64/",
	} {
		p, err := parsePlatform(in)
		if got := p.OS + "/" + p.Architecture + "/" + p.Variant; err != nil || got != want {
			t.Errorf("parsePlatform(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "linux/", "a/b/c/d"} {
		if _, err := parsePlatform(bad); err == nil {
			t.Errorf("parsePlatform(%q) succeeded", bad)
		}
	}
}

func TestTemplateFuncs(t *testing.T) {
	var out bytes.Buffer
	rows := []any{map[string]string{"A": "hello world", "B": "x"}}
	lf := listFormat{format: `table {{title .A}}\t{{upper .B}}\t{{pad .B 1 2}}|{{truncate .A 3}}\t{{join (split .A " ") ","}}`,
		header: map[string]string{"A": "AA", "B": "BB"}}
	if err := lf.write(&out, rows); err != nil {
		t.Fatal(err)
	}
	want := "AA            BB         BB  |AA   AA\nHello World   X          x  |hel   hello,world\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}

func TestLoginPrompts(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	go func() {
		// The answers, typed once the prompts are out.
		buf := make([]byte, 256)
		var seen string
		for _, answer := range []struct{ prompt, text string }{{"Username: ", "me\n"}, {"Password: ", "secret\n"}} {
			for !strings.Contains(seen, answer.prompt) {
				n, err := ptmx.Read(buf)
				if err != nil {
					return
				}
				seen += string(buf[:n])
			}
			_, _ = ptmx.Write([]byte(answer.text))
		}
		for {
			if _, err := ptmx.Read(buf); err != nil {
				return
			}
		}
	}()
	f := newFakeAPI()
	creds := &fakeCreds{}
	var errb bytes.Buffer
	code := Main([]string{"login", "reg.example"}, Options{
		Connect:     func(context.Context, Globals) (ImageAPI, error) { return f, nil },
		Credentials: func() (Credentials, error) { return creds, nil },
		In:          tty, Out: tty, Err: &errb,
	})
	if code != 0 || creds.m["reg.example"] != [2]string{"me", "secret"} {
		t.Errorf("interactive login: exit %d, %v, %s", code, creds.m, errb.String())
	}
}
