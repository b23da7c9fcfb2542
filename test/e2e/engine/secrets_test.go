package engine_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/corral-dev/corral/testutil"
)

// The secrets of issue 6: the store through corral's CLI (the docker CLI
// refuses secret commands without swarm), --secret on run and create, and
// the proof that a value goes nowhere but where it must.

// corral runs corral's CLI against the engine.
func (e *engine) corral(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return run(t, nil, stdin, testutil.EngineBinary(t), append([]string{"-H", e.d.host}, args...)...)
}

// corralOK runs a corral command that must succeed and returns its stdout.
func (e *engine) corralOK(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := e.corral(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r.stdout
}

// secret creates a secret named after t holding value and answers its
// name; it is removed when t ends.
func (e *engine) secret(t *testing.T, value string) string {
	t.Helper()
	n := testutil.UniqueName(t)
	e.corralOK(t, value, "secret", "create", n, "-")
	t.Cleanup(func() { e.corral(t, "", "secret", "rm", n) })
	return n
}

// raw makes an API call and answers the body, failing on a status >= 300.
func (e *engine) raw(t *testing.T, method, path string) []byte {
	t.Helper()
	req, err := http.NewRequest(method, "http://corral/v1.47"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s %v", method, path, resp.StatusCode, b, err)
	}
	return b
}

func TestSecrets(t *testing.T) {
	e := newEngine(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *engine)
	}{
		{"Store", testSecretStore},
		{"RunFile", testSecretRunFile},
		{"RunEnv", testSecretRunEnv},
		{"Missing", testSecretMissing},
		{"InUse", testSecretInUse},
		{"ImageLabel", testSecretImageLabel},
		{"SymlinkTarget", testSecretSymlinkTarget},
		{"Config", testConfigEnv},
		{"DaemonKill", testSecretDaemonKill},
		{"Leak", testSecretLeak},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, e) })
	}
}

// testSecretStore: create from a file and from stdin, ls, inspect, rm,
// and the errors.
func testSecretStore(t *testing.T, e *engine) {
	file := filepath.Join(t.TempDir(), "v")
	if err := os.WriteFile(file, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := testutil.UniqueName(t), testutil.UniqueName(t)
	idA := strings.TrimSpace(e.corralOK(t, "", "secret", "create", "--label", "team=db", a, file))
	idB := strings.TrimSpace(e.corralOK(t, "from-stdin", "secret", "create", b, "-"))
	defer e.corral(t, "", "secret", "rm", a, b)
	for _, id := range []string{idA, idB} {
		if len(id) != 64 {
			t.Fatalf("secret create printed %q", id)
		}
	}
	if out := e.corralOK(t, "", "secret", "ls", "-q", "--filter", "name="+a); out != idA+"\n" {
		t.Errorf("ls -q --filter name=: %q", out)
	}
	if out := e.corralOK(t, "", "secret", "ls", "--filter", "label=team=db", "--format", "{{.Name}} {{.Labels}}"); out != a+" team=db\n" {
		t.Errorf("ls --filter label: %q", out)
	}
	ls := e.corralOK(t, "", "secret", "ls")
	if !strings.HasPrefix(ls, "ID ") || !strings.Contains(ls, idA) || !strings.Contains(ls, b) || !strings.Contains(ls, "ago") {
		t.Errorf("ls:\n%s", ls)
	}
	if out := e.corralOK(t, "", "secret", "inspect", "--format", "{{.ID}} {{.Spec.Name}} {{.Spec.Labels.team}}", a); out != idA+" "+a+" db\n" {
		t.Errorf("inspect --format: %q", out)
	}
	var got []swarm.Secret
	if err := json.Unmarshal([]byte(e.corralOK(t, "", "secret", "inspect", b, idA[:12])), &got); err != nil || len(got) != 2 ||
		got[0].ID != idB || got[1].Spec.Name != a || got[0].CreatedAt.IsZero() {
		t.Errorf("inspect: %+v %v", got, err)
	}
	for _, body := range [][]byte{e.raw(t, "GET", "/secrets"), e.raw(t, "GET", "/secrets/"+a), []byte(ls)} {
		if bytes.Contains(body, []byte("from-")) || bytes.Contains(body, []byte(`"Data"`)) {
			t.Errorf("an answer holds a value: %s", body)
		}
	}
	if r := e.corral(t, "x", "secret", "create", a, "-"); r.code != 1 || !strings.Contains(r.stderr, "secret "+a+" already exists") {
		t.Errorf("duplicate: %v", r)
	}
	if r := e.corral(t, "x", "secret", "create", "bad/name", "-"); r.code != 1 || !strings.Contains(r.stderr, `invalid secret name "bad/name"`) {
		t.Errorf("bad name: %v", r)
	}
	if r := e.corral(t, "", "secret", "create", "empty", "-"); r.code != 1 || !strings.Contains(r.stderr, "must be larger than 0") {
		t.Errorf("empty value: %v", r)
	}
	// The real docker CLI lists and inspects them too.
	if out := e.ok(t, "secret", "ls", "--format", "{{.ID}} {{.Name}}"); !strings.Contains(out, idA+" "+a+"\n") {
		t.Errorf("docker secret ls: %q", out)
	}
	if out := e.ok(t, "secret", "inspect", "--format", "{{.Spec.Name}}", idB); out != b+"\n" {
		t.Errorf("docker secret inspect: %q", out)
	}
	c := testutil.UniqueName(t)
	if r := e.docker(t, "by-docker", "secret", "create", c, "-"); r.code != 0 || len(strings.TrimSpace(r.stdout)) != 64 {
		t.Errorf("docker secret create: %v", r)
	}
	if r := e.docker(t, "", "secret", "rm", c); r.code != 0 || r.stdout != c+"\n" {
		t.Errorf("docker secret rm: %v", r)
	}
	if out := e.corralOK(t, "", "secret", "rm", a, b); out != a+"\n"+b+"\n" {
		t.Errorf("rm: %q", out)
	}
	if r := e.corral(t, "", "secret", "inspect", a); r.code != 1 || !strings.Contains(r.stderr, "secret "+a+" not found") {
		t.Errorf("inspect after rm: %v", r)
	}
}

// testSecretRunFile: a file secret at /run/secrets/NAME, or at its target,
// with its owner and mode, read-only; from our CLI and from docker's with
// the label.
func testSecretRunFile(t *testing.T, e *engine) {
	s := e.secret(t, "file-value")
	out := e.corralOK(t, "", "run", "--rm", "--secret", s, "--secret", "source="+s+",target=app/key,uid=1000,gid=1001,mode=0440",
		"--secret", s+",target=/etc/abs.key,mode=0400", "busybox", "sh", "-c",
		"cat /run/secrets/"+s+"; echo; cat /run/secrets/app/key; echo; stat -c '%u %g %a' /run/secrets/"+s+
			" /run/secrets/app/key /etc/abs.key; echo x > /run/secrets/app/key || echo read-only")
	want := "file-value\nfile-value\n0 0 444\n1000 1001 440\n0 0 400\n"
	if !strings.HasPrefix(out, want) || !strings.HasSuffix(out, "read-only\n") {
		t.Errorf("run --secret: %q, want %q then read-only", out, want)
	}
	// The mode applies: user 1000 reads its own 0400 file, not root's.
	out = e.corralOK(t, "", "run", "--rm", "-u", "1000", "--secret", s+",target=mine,uid=1000,mode=0400",
		"--secret", s+",target=roots,mode=0400", "busybox", "sh", "-c", "cat /run/secrets/mine; echo; cat /run/secrets/roots || echo denied")
	if !strings.HasPrefix(out, "file-value\n") || !strings.HasSuffix(out, "denied\n") {
		t.Errorf("run -u 1000 with modes: %q", out)
	}
	if out := e.corralOK(t, "", "run", "--rm", "--read-only", "--secret", s, "busybox", "cat", "/run/secrets/"+s); out != "file-value" {
		t.Errorf("run --read-only --secret: %q", out)
	}
	label := fmt.Sprintf(`io.corral.secrets=[{"name":%q,"target":"d"}]`, s)
	if out := e.ok(t, "run", "--rm", "--label", label, "busybox", "cat", "/run/secrets/d"); out != "file-value" {
		t.Errorf("docker run with the label: %q", out)
	}
	if ents, _ := os.ReadDir(filepath.Join(execRoot(e), "secrets")); len(ents) != 0 {
		t.Errorf("secrets tmpfs left after the containers: %v", ents)
	}
}

// testSecretRunEnv: type=env puts the value in the process environment
// only: not in inspect's Env.
func testSecretRunEnv(t *testing.T, e *engine) {
	s := e.secret(t, "env-value")
	n := e.name(t)
	out := e.corralOK(t, "", "run", "--name", n, "--secret", s+",type=env,target=DB_PASS", "-e", "DB_PASS=plain", "busybox", "sh", "-c", "echo $DB_PASS")
	if out != "env-value\n" {
		t.Errorf("type=env: %q", out)
	}
	c := e.inspect(t, n)
	if env := strings.Join(c.Config.Env, " "); strings.Contains(env, "env-value") || !strings.Contains(env, "DB_PASS=plain") {
		t.Errorf("inspect Env: %s", env)
	}
}

// testSecretMissing: a secret that does not exist fails create, naming
// it, and nothing is created.
func testSecretMissing(t *testing.T, e *engine) {
	n := e.name(t)
	r := e.corral(t, "", "run", "--name", n, "--secret", "nosuch-secret", "busybox", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "secret not found: nosuch-secret") {
		t.Errorf("run with a missing secret: %v", r)
	}
	if e.exists(t, n) {
		t.Errorf("%s was created", n)
	}
	label := `io.corral.secrets=[{"name":"nosuch-secret"}]`
	if out := e.fails(t, 1, "create", "--name", n, "--label", label, "busybox"); !strings.Contains(out, "secret not found: nosuch-secret") {
		t.Errorf("docker create: %s", out)
	}
	if out := e.fails(t, 1, "create", "--name", n, "--label", `io.corral.secrets=[{"name":"x","target":"../../etc/passwd"}]`, "busybox"); !strings.Contains(out, "leaves /run/secrets") {
		t.Errorf("docker create with an escaping target: %s", out)
	}
	if e.exists(t, n) {
		t.Errorf("%s was created", n)
	}
}

// testSecretInUse: a secret a container refers to cannot be removed until
// the container is.
func testSecretInUse(t *testing.T, e *engine) {
	s := e.secret(t, "v")
	n := e.name(t)
	e.corralOK(t, "", "create", "--name", n, "--secret", s, "busybox", "true")
	r := e.corral(t, "", "secret", "rm", s)
	if r.code != 1 || !strings.Contains(r.stderr, "secret '"+s+"' is in use by the following container: "+n) {
		t.Errorf("rm of a secret in use: %v", r)
	}
	e.ok(t, "rm", n)
	e.corralOK(t, "", "secret", "rm", s)
}

// testSecretImageLabel: an image cannot ask for the user's secrets with
// the label: only the create request's own label counts.
func testSecretImageLabel(t *testing.T, e *engine) {
	s := e.secret(t, "not-for-images")
	img := strings.ToLower(testutil.UniqueName(t))
	n := e.name(t)
	e.ok(t, "create", "--name", n, "busybox")
	e.ok(t, "commit", "--change", fmt.Sprintf(`LABEL io.corral.secrets=[{"name":%q,"target":"/stolen"}]`, s), n, img)
	defer e.docker(t, "", "rmi", img)
	out := e.ok(t, "run", "--rm", img, "sh", "-c", "cat /stolen 2>&1; true")
	if strings.Contains(out, "not-for-images") {
		t.Errorf("a container of the image got the secret: %q", out)
	}
	m := e.runD(t, img, "sleep", "1000")
	if _, ok := e.inspect(t, m).Config.Labels["io.corral.secrets"]; ok {
		t.Errorf("the image's label reached the container")
	}
}

// testConfigEnv: -e KEY from the caller's environment (left out when
// unset), --env-file, the image's ENV underneath, inspect; a bad env file
// names its line and creates nothing.
func testConfigEnv(t *testing.T, e *engine) {
	img := strings.ToLower(testutil.UniqueName(t))
	base := e.name(t)
	e.ok(t, "create", "--name", base, "busybox")
	e.ok(t, "commit", "--change", "ENV FROM_IMAGE=img", "--change", "ENV OVER=img", base, img)
	defer e.docker(t, "", "rmi", img)
	file := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(file, []byte("# comment\n\nFILE_VAR=\"quoted\"\nCALLER_SET\nCALLER_UNSET\nOVER=file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := e.name(t)
	r := run(t, append(e.env, "CALLER_SET=from-caller", "E_SET=e-caller"), "", testutil.EngineBinary(t), "-H", e.d.host,
		"run", "--name", n, "--env-file", file, "-e", "E_SET", "-e", "E_UNSET", img, "sh", "-c", "env | grep -e CALLER -e E_ -e FILE_VAR -e FROM_IMAGE -e OVER | sort")
	want := "CALLER_SET=from-caller\nE_SET=e-caller\nFILE_VAR=\"quoted\"\nFROM_IMAGE=img\nOVER=file\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("env: %v\nwant:\n%s", r, want)
	}
	env := e.inspect(t, n).Config.Env
	for _, v := range []string{"CALLER_SET=from-caller", "E_SET=e-caller", `FILE_VAR="quoted"`, "FROM_IMAGE=img", "OVER=file"} {
		if !slices.Contains(env, v) {
			t.Errorf("inspect Env %q lacks %s", env, v)
		}
	}
	if err := os.WriteFile(file, []byte("A=1\n\nBAD KEY=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := e.name(t)
	r = e.corral(t, "", "run", "--name", m, "--env-file", file, "busybox", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "invalid env file ("+file+"): line 3: variable 'BAD KEY' contains whitespaces") {
		t.Errorf("bad env file: %v", r)
	}
	if e.exists(t, m) {
		t.Errorf("a bad env file created %s", m)
	}
}

// execRoot is the engine's exec root: the daemon's for a data root that is
// not the default one.
func execRoot(e *engine) string {
	sum := sha256.Sum256([]byte(e.root()))
	return filepath.Join("/run/corral/roots", hex.EncodeToString(sum[:6]))
}

// grepTree answers the regular files under dir holding one of needles.
func grepTree(t *testing.T, dir string, needles ...[]byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // gone while we walked (a temporary file)
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				found = append(found, p)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return found
}

// testSecretLeak runs a container with a random secret as a file and as
// an environment variable, exercises inspect, ps, logs, events and commit,
// and looks for the value in every file of the data root and exec root,
// every answer and the daemon's log. While the container runs it may be
// only in the secret store's file, the container's secrets tmpfs, and the
// process environment of the bundle's config.json and of the runtime's
// state.json (both under the exec root, a tmpfs on a real host, root
// only); once it has stopped, only in the store.
func testSecretLeak(t *testing.T, e *engine) {
	rnd := make([]byte, 24)
	_, _ = rand.Read(rnd)
	value := "leak-" + hex.EncodeToString(rnd)
	needles := [][]byte{[]byte(value), []byte(base64.StdEncoding.EncodeToString([]byte(value)))}
	s := e.secret(t, value)
	var sec swarm.Secret
	if err := json.Unmarshal(e.raw(t, "GET", "/secrets/"+s), &sec); err != nil {
		t.Fatal(err)
	}
	storeFile := filepath.Join(e.root(), "secrets", sec.ID+".data")
	n := e.name(t)
	id := strings.TrimSpace(e.corralOK(t, "", "run", "-d", "--name", n, "--secret", s, "--secret", s+",type=env,target=LEAK",
		"busybox", "sh", "-c", `sha256sum /run/secrets/`+s+`; printf %s "$LEAK" | sha256sum; exec sleep 1000`))
	sum := sha256.Sum256([]byte(value))
	hash := hex.EncodeToString(sum[:])
	var logs string
	eventually(t, cmdTimeout, "the container's output", func() bool {
		logs = e.ok(t, "logs", n)
		return strings.Count(logs, hash) == 2
	})
	answers := map[string][]byte{
		"inspect": e.raw(t, "GET", "/containers/"+n+"/json"), "ps": e.raw(t, "GET", "/containers/json?all=1"),
		"logs": e.raw(t, "GET", "/containers/"+n+"/logs?stdout=1&stderr=1"), "docker inspect": []byte(e.ok(t, "inspect", n)),
		"docker ps": []byte(e.ok(t, "ps", "-a", "--no-trunc")), "docker logs": []byte(logs),
		"secret inspect": e.raw(t, "GET", "/secrets/"+s), "secret ls": e.raw(t, "GET", "/secrets"),
	}
	img := strings.ToLower(testutil.UniqueName(t))
	e.ok(t, "commit", n, img)
	defer e.docker(t, "", "rmi", img)
	answers["image inspect"] = e.raw(t, "GET", "/images/"+img+"/json")
	answers["commit's save"] = e.raw(t, "GET", "/images/get?names="+img)
	tmpfs := filepath.Join(execRoot(e), "secrets", id)
	allowed := []string{storeFile, filepath.Join(execRoot(e), "bundles", id, "config.json"),
		filepath.Join(execRoot(e), "runtime", id, "state.json")}
	for _, dir := range []string{e.root(), execRoot(e)} {
		for _, f := range grepTree(t, dir, needles...) {
			t.Logf("while running, the value is in %s", f)
			if !slices.Contains(allowed, f) && !strings.HasPrefix(f, tmpfs+"/") {
				t.Errorf("the value is in %s while the container runs", f)
			}
		}
	}
	if found := grepTree(t, tmpfs, needles...); len(found) != 1 {
		t.Errorf("the secrets tmpfs holds the value in %v", found)
	}
	e.ok(t, "stop", "-t", "1", n)
	answers["events"] = e.raw(t, "GET", "/events?since=0&until="+fmt.Sprint(time.Now().Unix()+1))
	answers["inspect stopped"] = e.raw(t, "GET", "/containers/"+n+"/json")
	for what, body := range answers {
		for _, needle := range needles {
			if bytes.Contains(body, needle) {
				t.Errorf("the value is in the answer of %s", what)
			}
		}
	}
	if _, err := os.Stat(tmpfs); !os.IsNotExist(err) {
		t.Errorf("secrets tmpfs after stop: %v", err)
	}
	for _, dir := range []string{e.root(), execRoot(e)} {
		for _, f := range grepTree(t, dir, needles...) {
			if f != storeFile {
				t.Errorf("the value is in %s after the container stopped", f)
			}
		}
	}
	if found := grepTree(t, filepath.Dir(storeFile), needles...); len(found) != 1 {
		t.Errorf("the store holds the value in %v, want only %s", found, storeFile)
	}
	for _, l := range append(e.dlogs, e.d.log.String()) {
		for _, needle := range needles {
			if bytes.Contains([]byte(l), needle) {
				t.Errorf("the value is in the daemon's log")
			}
		}
	}
}

// testSecretDaemonKill: the store and a running container's secret survive
// kill -9 of the daemon; a secret that vanished from the store while the
// daemon was away fails the container's start, naming it.
func testSecretDaemonKill(t *testing.T, e *engine) {
	s := e.secret(t, "survives")
	n := e.name(t)
	e.corralOK(t, "", "run", "-d", "--name", n, "--secret", s, "busybox", "sleep", "1000")
	var sec swarm.Secret
	if err := json.Unmarshal(e.raw(t, "GET", "/secrets/"+s), &sec); err != nil {
		t.Fatal(err)
	}
	e.kill9(t)
	e.restart(t)
	if out := e.ok(t, "exec", n, "cat", "/run/secrets/"+s); out != "survives" {
		t.Errorf("secret after the daemon's restart: %q", out)
	}
	e.ok(t, "stop", "-t", "1", n)
	if _, err := os.Stat(filepath.Join(execRoot(e), "secrets", e.inspect(t, n).ID)); !os.IsNotExist(err) {
		t.Errorf("secrets tmpfs after stop: %v", err)
	}
	e.kill9(t)
	for _, ext := range []string{".json", ".data"} {
		if err := os.Remove(filepath.Join(e.root(), "secrets", sec.ID+ext)); err != nil {
			t.Fatal(err)
		}
	}
	e.restart(t)
	if out := e.fails(t, 1, "start", n); !strings.Contains(out, "secret not found: "+s) {
		t.Errorf("start without the secret: %s", out)
	}
	if c := e.inspect(t, n); c.State.Running {
		t.Errorf("started without its secret")
	}
}

// testSecretSymlinkTarget: an image whose /run/secrets and target are
// symlinks to host paths gets its secrets inside its own root: the host's
// directories stay empty.
func testSecretSymlinkTarget(t *testing.T, e *engine) {
	s := e.secret(t, "in-root")
	hostDir, hostDir2 := t.TempDir(), t.TempDir()
	b := e.name(t)
	e.ok(t, "run", "--name", b, "busybox", "sh", "-c",
		"rm -rf /run/secrets && ln -s "+hostDir+" /run/secrets && ln -s "+hostDir2+"/x /etc/linked.key")
	img := strings.ToLower(testutil.UniqueName(t))
	e.ok(t, "commit", b, img)
	defer e.docker(t, "", "rmi", img)
	out := e.corralOK(t, "", "run", "--rm", "--secret", s, "--secret", s+",target=/etc/linked.key", img,
		"sh", "-c", "cat /run/secrets/"+s+"; echo; cat /etc/linked.key")
	if out != "in-root\nin-root" {
		t.Errorf("secrets through symlinks: %q", out)
	}
	for _, d := range []string{hostDir, hostDir2} {
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Errorf("a secret's mount point escaped to the host: %s holds %v", d, ents)
		}
	}
}
