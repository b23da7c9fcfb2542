package engine_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/client"
	"github.com/corral-dev/corral/testutil"
)

// TestCorralAndDockerCLI drives one daemon with the corral CLI and then
// the real docker CLI: the same images, the same IDs, both ways through a
// registry, and the image events the daemon recorded meanwhile.
func TestCorralAndDockerCLI(t *testing.T) {
	testutil.RequireRoot(t)
	const addr = "127.0.0.1:5000"
	startRegistry(t, addr)
	dir := t.TempDir()
	start := time.Now()
	d := startDaemon(t, dir)
	bin := testutil.EngineBinary(t)
	env := []string{"HOME=" + dir, "XDG_CONFIG_HOME="}
	corral := func(args ...string) string {
		t.Helper()
		return ok(t, env, bin, append([]string{"-H", d.host}, args...)...)
	}
	ref := addr + "/e2e/busybox:1"
	id := strings.TrimSpace(corral("import", "-c", `CMD ["sh"]`, "-m", "busybox-static", busyboxTar(t), ref))
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("import printed %q", id)
	}
	short := id[7:19]
	corralSide(t, corral, ref, id)

	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is not installed")
	}
	denv := []string{"DOCKER_HOST=" + d.host, "DOCKER_CONFIG=" + filepath.Join(dir, "dc"), "HOME=" + dir}
	docker := func(args ...string) string {
		t.Helper()
		return ok(t, denv, "docker", args...)
	}
	if out := docker("images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"); out != short+" "+ref+"\n" {
		t.Errorf("docker images: %q, want %s %s", out, short, ref)
	}
	dockerSide(t, docker, ref, id)
	checkEvents(t, d.host, start, id)
	out := docker("events", "--since", strconv.FormatInt(start.Unix(), 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
		"--filter", "event=push", "--format", "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}")
	if want := "image push " + ref + " 127.0.0.1:5000/e2e/busybox\nimage push " + strings.TrimSuffix(ref, ":1") + ":2 127.0.0.1:5000/e2e/busybox\n"; out != want {
		t.Errorf("docker events:\n%s\nwant:\n%s", out, want)
	}

	if err := d.stop(t); err != nil {
		t.Errorf("daemon exit: %v", err)
	}
	for _, p := range []string{filepath.Join(dir, "s.sock"), filepath.Join(dir, "corral.pid")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind after SIGTERM: %v", p, err)
		}
	}
}

// corralSide: images, tag, push, rmi, pull, save, load with corral's CLI.
func corralSide(t *testing.T, corral func(...string) string, ref, id string) {
	short := id[7:19]
	if out := corral("images"); !regexp.MustCompile(`(?m)^127.0.0.1:5000/e2e/busybox +1 +` + short + ` `).MatchString(out) {
		t.Errorf("corral images:\n%s", out)
	}
	corral("tag", ref, "bb:2")
	if out := corral("image", "inspect", "-f", "{{.Id}} {{.RepoTags}}", "bb:2"); out != id+" ["+ref+" bb:2]\n" {
		t.Errorf("inspect after tag: %q", out)
	}
	if out := corral("rmi", "bb:2"); out != "Untagged: bb:2\n" {
		t.Errorf("rmi: %q", out)
	}
	if out := corral("push", ref); !strings.Contains(out, "1: digest: sha256:") {
		t.Errorf("push:\n%s", out)
	}
	archive := filepath.Join(t.TempDir(), "bb.tar")
	corral("save", "-o", archive, ref)
	if out := corral("rmi", ref); !strings.Contains(out, "Deleted: "+id+"\n") {
		t.Errorf("rmi of the last tag: %q", out)
	}
	if out := corral("pull", ref); !strings.HasSuffix(out, "Status: Downloaded newer image for "+ref+"\n"+ref+"\n") {
		t.Errorf("pull:\n%s", out)
	}
	corral("rmi", ref)
	if out := corral("load", "-i", archive); out != "Loaded image: "+ref+"\n" {
		t.Errorf("load: %q", out)
	}
	if out := corral("images", "-q", "--no-trunc"); out != id+"\n" {
		t.Errorf("images after load: %q", out)
	}
}

// dockerSide: the real docker CLI on the same daemon.
func dockerSide(t *testing.T, docker func(...string) string, ref, id string) {
	short := id[7:19]
	if out := docker("inspect", "--format", "{{.Id}} {{.Os}}/{{.Architecture}} {{json .Config.Cmd}}", ref); out != id+` linux/amd64 ["sh"]`+"\n" {
		t.Errorf("docker inspect: %q", out)
	}
	if out := docker("history", "--format", "{{.ID}}|{{.Comment}}", ref); !strings.HasPrefix(out, short+"|busybox-static\n") {
		t.Errorf("docker history: %q", out)
	}
	ref2 := strings.TrimSuffix(ref, ":1") + ":2"
	docker("tag", ref, ref2)
	if out := docker("push", ref2); !regexp.MustCompile(`(?m)^2: digest: sha256:[0-9a-f]{64} size: \d+$`).MatchString(out) {
		t.Errorf("docker push:\n%s", out)
	}
	if out := docker("rmi", ref2); out != "Untagged: "+ref2+"\n" {
		t.Errorf("docker rmi: %q", out)
	}
	if out := docker("pull", ref2); !strings.Contains(out, "Status: Downloaded newer image for "+ref2) &&
		!strings.Contains(out, "Status: Image is up to date for "+ref2) {
		t.Errorf("docker pull:\n%s", out)
	}
	archive := filepath.Join(t.TempDir(), "d.tar")
	docker("save", "-o", archive, ref2)
	docker("rmi", ref2)
	if out := docker("load", "-i", archive); !strings.Contains(out, "Loaded image: "+ref2) {
		t.Errorf("docker load: %q", out)
	}
	if out := docker("images", "--no-trunc", "--format", "{{.ID}} {{.Tag}}"); sortLines(out) != id+" 1\n"+id+" 2\n" {
		t.Errorf("docker images after load: %q, want both names of one image", out)
	}
	if out := docker("system", "df"); !regexp.MustCompile(`(?m)^Images +1 +0 +[0-9.]+[kM]B`).MatchString(out) {
		t.Errorf("docker system df:\n%s", out)
	}
	out := docker("info", "--format", "{{.Images}} {{.Containers}} {{.Driver}} {{.DefaultRuntime}} {{.LiveRestoreEnabled}} {{.CgroupDriver}}")
	if out != "1 0 overlayfs corral true cgroupfs\n" {
		t.Errorf("docker info: %q", out)
	}
	if out := docker("info"); !strings.Contains(out, "Server Version: ") || !strings.Contains(out, "Docker Root Dir: ") {
		t.Errorf("docker info:\n%s", out)
	}
	if out := docker("version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}}"); out != api.APIVersion+" "+api.MinAPIVersion+"\n" {
		t.Errorf("docker version: %q", out)
	}
}

// checkEvents reads the image events since start through the client
// (docker events shows the same stream).
func checkEvents(t *testing.T, host string, start time.Time, id string) {
	t.Helper()
	c, err := client.New(host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, errs := c.Events(ctx, api.EventsOptions{Since: start, Until: time.Now(), Filters: api.NewFilters("type", "image")})
	var got []string
	for m := range msgs {
		got = append(got, string(m.Action))
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	// A removal untags the name and, once pushed or pulled, the digest.
	want := "import tag untag push save untag untag delete pull untag untag delete load tag push untag pull save untag load"
	if strings.Join(got, " ") != want {
		t.Errorf("image events:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

// TestDaemonRefusesSecondStart: one daemon per data root, and per socket.
func TestDaemonRefusesSecondStart(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	startDaemon(t, dir)
	bin := testutil.EngineBinary(t)
	r := run(t, nil, "", bin, "daemon", "--host", "unix://"+filepath.Join(dir, "other.sock"),
		"--data-root", filepath.Join(dir, "root"), "--pidfile", filepath.Join(dir, "other.pid"))
	if r.code != 1 || !strings.Contains(r.stderr, "is in use by another daemon") {
		t.Errorf("second daemon on a data root: %v", r)
	}
	r = run(t, nil, "", bin, "daemon", "--host", "unix://"+filepath.Join(dir, "s.sock"),
		"--data-root", filepath.Join(dir, "root2"), "--pidfile", filepath.Join(dir, "other.pid"))
	if r.code != 1 || !strings.Contains(r.stderr, "another daemon is listening on") {
		t.Errorf("second daemon on a socket: %v", r)
	}
	r = run(t, nil, "", bin, "daemon", "--host", "tcp://127.0.0.1:2375", "--data-root", filepath.Join(dir, "root3"),
		"--pidfile", filepath.Join(dir, "other.pid"))
	if r.code != 1 || !strings.Contains(r.stderr, "only unix:///path sockets are supported") {
		t.Errorf("tcp host: %v", r)
	}
	waitPing(t, "unix://"+filepath.Join(dir, "s.sock")) // the first one still serves
}

func sortLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}
