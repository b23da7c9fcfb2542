package runcli

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	good := map[string]unix.Signal{"9": unix.SIGKILL, "KILL": unix.SIGKILL, "SIGKILL": unix.SIGKILL,
		"term": unix.SIGTERM, "SIGUSR1": unix.SIGUSR1, "15": unix.SIGTERM}
	for in, want := range good {
		got, err := parseSignal(in)
		if err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if sig, err := parseSignal("0"); err != nil || sig != 0 {
		t.Errorf("signal 0 (a liveness check) refused: %v", err)
	}
	for _, in := range []string{"", "-1", "65", "NOPE", "SIG"} {
		if _, err := parseSignal(in); err == nil {
			t.Errorf("parseSignal(%q) accepted", in)
		}
	}
}

func TestParseUser(t *testing.T) {
	u, err := parseUser("1000:100")
	if err != nil || u.UID != 1000 || u.GID != 100 {
		t.Fatalf("got %+v %v", u, err)
	}
	if u, err = parseUser("5"); err != nil || u.UID != 5 || u.GID != 0 {
		t.Fatalf("got %+v %v", u, err)
	}
	for _, in := range []string{"root", "1:x", "-1", ""} {
		if _, err := parseUser(in); err == nil {
			t.Errorf("parseUser(%q) accepted", in)
		}
	}
}

func TestExecBuildFromContainer(t *testing.T) {
	base := &specs.Spec{Process: &specs.Process{Args: []string{"sh"}, Env: []string{"A=1"}, Cwd: "/",
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}}}}
	f := execFlags{env: []string{"B=2"}, cwd: "/tmp", user: "7:8", gids: []int{9}, caps: []string{"CAP_NET_ADMIN"}, tty: true}
	p, err := f.build(base, []string{"id", "-u"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Args[0] != "id" || len(p.Env) != 2 || p.Cwd != "/tmp" || p.User.UID != 7 || p.User.GID != 8 ||
		len(p.User.AdditionalGids) != 1 || !p.Terminal || len(p.Capabilities.Bounding) != 2 {
		t.Fatalf("unexpected process %+v", p)
	}
	if len(base.Process.Env) != 1 || len(base.Process.Capabilities.Bounding) != 1 {
		t.Fatal("build modified the container's own process")
	}
	if _, err := f.build(base, nil); err == nil {
		t.Fatal("exec without a command was accepted")
	}
}

func TestUnknownCommandReachesLog(t *testing.T) {
	log := t.TempDir() + "/log.json"
	code := Main([]string{"--root", t.TempDir(), "--log", log, "--log-format", "json", "bogus-command"})
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	b, err := os.ReadFile(log)
	if err != nil || !strings.Contains(string(b), `"level":"error"`) || !strings.Contains(string(b), "bogus-command") {
		t.Fatalf("log file has %q (%v)", b, err)
	}
}
