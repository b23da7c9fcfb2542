package engine_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
)

// composeFile is a project of two busybox services on a network of its
// own: web serves a page, client reaches it by service name.
const composeFile = `version: "3.8"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web >/www/index.html && echo web-ready && exec httpd -f -p 80 -h /www"]
    networks: [front]
  client:
    image: busybox
    command: ["sleep", "600"]
    networks: [front]
networks:
  front: {}
`

// docker-compose (Debian's 1.29.2, the Python one) against the engine:
// up, ps, the services reaching each other by name, a second up that
// recreates nothing (compose compares what the API echoes back with what
// it asked for), logs, and down removing containers and network.
func TestCompose(t *testing.T) {
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Fatal("needs docker-compose (apt-get install docker-compose; scripts/install.sh installs it)")
	}
	e := newEngineArgs(t, "--bridge", "tcm0", "--bip", "10.218.0.1/24")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(composeFile), 0o644); err != nil {
		t.Fatal(err)
	}
	// compose keeps letters and digits of a project's name.
	p := &composeProject{e: e, dir: dir, name: strings.ReplaceAll(testutil.UniqueName(t), "-", "")}
	t.Cleanup(func() { p.run(t, "down", "-t", "0") })
	p.ok(t, "up", "-d")
	ids := p.ids(t)
	if len(ids) != 2 {
		t.Fatalf("up -d: %d containers, want 2", len(ids))
	}
	ps := p.ok(t, "ps")
	for _, s := range []string{p.name + "_web_1", p.name + "_client_1"} {
		if !strings.Contains(ps, s) || strings.Count(ps, "Up") != 2 {
			t.Errorf("ps lacks %s up:\n%s", s, ps)
		}
	}
	net := p.name + "_front"
	if out := e.ok(t, "network", "inspect", "-f", "{{len .Containers}}", net); strings.TrimSpace(out) != "2" {
		t.Errorf("network %s holds %s containers, want 2", net, out)
	}
	eventually(t, 10*time.Second, "web's log line", func() bool {
		return strings.Contains(p.run(t, "logs", "web").stdout, "web-ready")
	})
	webIP := e.ipOn(t, p.name+"_web_1", net)
	byIP := fmt.Sprintf(`printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc -w 5 %s 80`, webIP)
	if r := p.run(t, "exec", "-T", "client", "sh", "-c", byIP); r.code != 0 || !strings.Contains(r.stdout, "hello-from-web") {
		t.Errorf("client reaching web at its address %s: %v", webIP, r)
	}
	// busybox-static's wget crashes in glibc's static name lookup; ping
	// and nc look names up without it.
	if r := p.run(t, "exec", "-T", "client", "ping", "-c1", "-W2", "web"); r.code != 0 {
		t.Errorf("client pinging web by service name: %v", r)
	}
	get := `printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc -w 5 web 80`
	if r := p.run(t, "exec", "-T", "client", "sh", "-c", get); r.code != 0 || !strings.Contains(r.stdout, "hello-from-web") {
		t.Errorf("client reaching web's port 80 by service name: %v", r)
	}
	if r := p.run(t, "up", "-d"); r.code != 0 || strings.Contains(r.stderr, "Recreating") || strings.Count(r.stderr, "is up-to-date") != 2 {
		t.Errorf("second up -d: %v", r)
	}
	if again := p.ids(t); strings.Join(again, " ") != strings.Join(ids, " ") {
		t.Errorf("second up -d recreated the containers: %v, were %v", again, ids)
	}
	p.ok(t, "down", "-t", "1")
	if out := e.ok(t, "ps", "-aq", "--filter", "label=com.docker.compose.project="+p.name); out != "" {
		t.Errorf("containers left by down: %q", out)
	}
	if r := e.docker(t, "", "network", "inspect", net); r.code == 0 {
		t.Errorf("network %s left by down", net)
	}
}

// composeProject runs docker-compose on the project in dir, named name,
// against e.
type composeProject struct {
	e         *engine
	dir, name string
}

func (p *composeProject) run(t *testing.T, args ...string) result {
	t.Helper()
	full := append([]string{"-p", p.name, "-f", filepath.Join(p.dir, "docker-compose.yml"), "--ansi", "never"}, args...)
	return run(t, append(p.e.env, "COMPOSE_INTERACTIVE_NO_CLI=1"), "", "docker-compose", full...)
}

func (p *composeProject) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := p.run(t, args...)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r.stdout
}

// ids are the project's container IDs, by `ps -q`, sorted by compose.
func (p *composeProject) ids(t *testing.T) []string {
	t.Helper()
	return strings.Fields(p.ok(t, "ps", "-q"))
}
