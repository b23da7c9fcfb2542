package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// The parity tests run the real docker CLI (if installed) against fakeAPI
// served over a minimal Engine API, and corral's commands against the same
// fakeAPI in process, and compare what both print.

var typeName = regexp.MustCompile(`type \*[a-z]+\.[A-Za-z]+`)

func sortLines(s string) string {
	lines := strings.Split(s, "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

var versionPrefix = regexp.MustCompile(`^/v[0-9.]+`)

// engineHandler serves f as the Engine API for the calls the image
// commands make.
func engineHandler(t *testing.T, f *fakeAPI) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", api.APIVersion)
		w.Header().Set("Ostype", "linux")
		p := versionPrefix.ReplaceAllString(r.URL.Path, "")
		q := r.URL.Query()
		ctx := r.Context()
		var v any
		var err error
		switch {
		case p == "/_ping":
			_, _ = io.WriteString(w, "OK")
			return
		case p == "/images/json":
			var o api.ImageListOptions
			o.All = q.Get("all") == "1"
			if s := q.Get("filters"); s != "" {
				err = json.Unmarshal([]byte(s), &o.Filters)
			}
			if err == nil {
				v, err = f.ImageList(ctx, o)
			}
		case p == "/system/df":
			v, err = legacyDiskUsage(ctx, f)
		case r.Method == http.MethodPost && p == "/images/prune":
			var filters api.Filters
			_ = json.Unmarshal([]byte(q.Get("filters")), &filters)
			v, err = f.ImagesPrune(ctx, filters)
		case r.Method == http.MethodPost && p == "/auth":
			var auth registry.AuthConfig
			_ = json.NewDecoder(r.Body).Decode(&auth)
			v, err = f.RegistryLogin(ctx, auth)
		case r.Method == http.MethodDelete && strings.HasPrefix(p, "/images/"):
			v, err = f.ImageRemove(ctx, strings.TrimPrefix(p, "/images/"), api.ImageRemoveOptions{
				Force: q.Get("force") == "1", PruneChildren: q.Get("noprune") != "1"})
		case r.Method == http.MethodPost && p == "/images/create":
			var body io.ReadCloser
			if src := q.Get("fromSrc"); src != "" {
				ref := q.Get("repo")
				if tag := q.Get("tag"); tag != "" {
					ref += ":" + tag
				}
				body, err = f.ImageImport(ctx, r.Body, ref, api.ImageImportOptions{Message: q.Get("message"), Changes: q["changes"]})
			} else {
				ref := joinRef(q.Get("fromImage"), q.Get("tag"))
				body, err = f.ImagePull(ctx, ref, api.ImagePullOptions{RegistryAuth: r.Header.Get("X-Registry-Auth"), Platform: q.Get("platform")})
			}
			writeStream(w, body, err)
			return
		case r.Method == http.MethodPost && p == "/images/load":
			body, err := f.ImageLoad(ctx, r.Body, api.ImageLoadOptions{Quiet: q.Get("quiet") == "1"})
			writeStream(w, body, err)
			return
		case p == "/images/get":
			body, err := f.ImageSave(ctx, q["names"])
			writeStream(w, body, err)
			return
		case r.Method == http.MethodPost && strings.HasSuffix(p, "/push"):
			ref := strings.TrimSuffix(strings.TrimPrefix(p, "/images/"), "/push") + ":" + q.Get("tag")
			body, err := f.ImagePush(ctx, ref, api.ImagePushOptions{RegistryAuth: r.Header.Get("X-Registry-Auth")})
			writeStream(w, body, err)
			return
		case strings.HasSuffix(p, "/json"):
			v, err = f.ImageInspect(ctx, strings.TrimSuffix(strings.TrimPrefix(p, "/images/"), "/json"))
		case strings.HasSuffix(p, "/history"):
			v, err = f.ImageHistory(ctx, strings.TrimSuffix(strings.TrimPrefix(p, "/images/"), "/history"))
		case strings.HasSuffix(p, "/tag"):
			err = f.ImageTag(ctx, strings.TrimSuffix(strings.TrimPrefix(p, "/images/"), "/tag"), q.Get("repo")+":"+q.Get("tag"))
			if err == nil {
				w.WriteHeader(http.StatusCreated)
				return
			}
		default:
			t.Errorf("fake engine: unexpected %s %s", r.Method, r.URL)
			err = errdefs.NotFound(errors.New("page not found"))
		}
		writeAnswer(w, v, err)
	})
}

// legacyDiskUsage is /system/df as API 1.47 shapes it.
func legacyDiskUsage(ctx context.Context, f *fakeAPI) (any, error) {
	du, err := f.DiskUsage(ctx)
	if err != nil {
		return nil, err
	}
	imgs := make([]*image.Summary, len(du.ImageUsage.Items))
	for i := range du.ImageUsage.Items {
		imgs[i] = &du.ImageUsage.Items[i]
	}
	return map[string]any{"LayersSize": du.ImageUsage.TotalSize, "Images": imgs,
		"Containers": []any{}, "Volumes": []any{}, "BuildCache": []any{}}, nil
}

// joinRef puts fromImage and tag (or digest) of /images/create together
// in familiar form, as the client split them.
func joinRef(repo, tag string) string {
	sep := ":"
	if strings.Contains(tag, ":") {
		sep = "@"
	}
	named, err := reference.ParseNormalizedNamed(repo + sep + tag)
	if err != nil {
		return repo + sep + tag
	}
	return reference.FamiliarString(named)
}

func writeStream(w http.ResponseWriter, body io.ReadCloser, err error) {
	if err != nil {
		writeAnswer(w, nil, err)
		return
	}
	defer body.Close()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.Copy(w, body)
}

func writeAnswer(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errdefs.IsNotFound(err):
			code = http.StatusNotFound
		case errdefs.IsInvalidArgument(err):
			code = http.StatusBadRequest
		case errors.Is(err, errdefs.ErrUnauthorized):
			code = http.StatusUnauthorized
		}
		w.WriteHeader(code)
		msg := strings.TrimPrefix(err.Error(), "Error response from daemon: ")
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // as dockerd
	_ = enc.Encode(v)
}

// dockerRunner runs the docker CLI against a fake engine.
type dockerRunner struct {
	t      *testing.T
	docker string
	env    []string
}

func newDockerRunner(t *testing.T, f *fakeAPI) *dockerRunner {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("no docker CLI installed")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "engine.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: engineHandler(t, f)}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	env := append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(dir, "config"),
		"DOCKER_CLI_HINTS=false", "DOCKER_CLI_EXPERIMENTAL=", "DOCKER_CONTENT_TRUST=")
	return &dockerRunner{t: t, docker: docker, env: env}
}

func (d *dockerRunner) run(args ...string) (string, string, int) {
	cmd := exec.Command(d.docker, args...)
	cmd.Env = d.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatalf("docker %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func TestDockerParity(t *testing.T) {
	f := newFakeAPI()
	d := newDockerRunner(t, f)
	cases := [][]string{
		{"images"},
		{"images", "-q"},
		{"images", "--digests"},
		{"images", "--no-trunc"},
		{"images", "--format", "json"},
		{"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"},
		{"images", "--format", "table {{.Repository}}\t{{.Digest}}\t{{.CreatedAt}}"},
		{"images", "--format", "table {{.ID}}", "--digests"},
		{"images", "--format", "raw"},
		{"images", "-f", "dangling=true"},
		{"images", "--filter", "label=app=web"},
		{"images", "--filter", "bogus=1"},
		{"images", "--filter", "nokey"},
		{"images", "busy*"},
		{"images", "ls"},
		{"image", "ls", "ls"},
		{"images", "--format", "{{.Nope}}"},
		{"images", "--format", "{{"},
		{"images", "a", "b"},
		{"images", "--bogus"},
		{"image", "inspect", "busybox"},
		{"image", "inspect", "busybox", "web:1.0"},
		{"image", "inspect", "-f", "{{.Id}} {{.Os}} {{json .RepoTags}}", "busybox"},
		{"image", "inspect", "-f", "json", "busybox"},
		{"image", "inspect", "-f", "{{.Nope}}", "busybox"},
		{"image", "inspect", "-f", "{{", "busybox"},
		{"image", "inspect", "nope"},
		{"image", "inspect", "busybox", "nope"},
		{"image", "history", "busybox"},
		{"image", "history", "--no-trunc", "busybox"},
		{"image", "history", "-q", "busybox"},
		{"image", "history", "-H=false", "busybox"},
		{"image", "history", "--format", "json", "busybox"},
		{"history", "nope"},
		{"tag", "busybox", "x:1"},
		{"tag", "nope", "x:1"},
		{"tag", "busybox"},
		{"rmi", "busybox"},
		{"rmi", "localhost:5000/busybox:v1"},
		{"rmi", "nope"},
		{"rmi", "-f", "nope"},
		{"rmi", "busybox", "nope"},
		{"image", "prune", "-f"},
		{"image", "prune", "-a", "-f"},
		{"image", "prune", "x"},
		{"system", "df"},
		{"system", "df", "-v"},
		{"system", "df", "--format", "json"},
		{"system", "df", "--format", "{{.Type}}: {{.Size}}"},
		{"load", "x"},
		{"save"},
		{"pull"},
		{"pull", "-a", "busybox:1"},
		{"pull", "UPPER"},
		{"login", "--password-stdin", "-p", "x"},
		{"login", "--password-stdin"},
		{"login", "-u", ""},
		{"image", "foo"},
		{"image"},
		{"pull", "--help"},
		{"image", "prune", "--help"},
		{"login", "--help"},
		{"logout", "--help"},
		{"tag", "--help"},
		{"import", "--help"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			wantOut, wantErr, wantCode := d.run(args...)
			gotOut, gotErr, gotCode := run(f, nil, "", args...)
			wantErr = strings.ReplaceAll(wantErr, "docker", "corral")
			wantOut = strings.ReplaceAll(wantOut, "docker", "corral")
			if strings.Contains(wantErr, "SRun") {
				wantErr = strings.ReplaceAll(wantErr, "SRun", "Run") // docker's typo
			}
			// Type names in template errors, and the order of an image's
			// repositories (docker's is a map's) may differ.
			wantErr = typeName.ReplaceAllString(wantErr, "type *T")
			gotErr = typeName.ReplaceAllString(gotErr, "type *T")
			// corral has no build yet.
			wantErr = strings.Replace(wantErr, "  build       Build an image from a Dockerfile\n", "", 1)
			if args[0] == "images" {
				wantOut, gotOut = sortLines(wantOut), sortLines(gotOut)
			}
			if gotOut != wantOut || gotErr != wantErr || gotCode != wantCode {
				t.Errorf("docker %v:\n--- docker (exit %d)\n%s%s--- corral (exit %d)\n%s%s",
					args, wantCode, wantOut, "[stderr]\n"+wantErr, gotCode, gotOut, "[stderr]\n"+gotErr)
			}
		})
	}
}

// pullStream is what dockerd answers a pull of busybox.
var pullStream = []jsonstream.Message{
	{Status: "Pulling from library/busybox", ID: "latest"},
	{Status: "Pulling fs layer", ID: "a46fbb00284b", Progress: &jsonstream.Progress{}},
	{Status: "Downloading", ID: "a46fbb00284b", Progress: &jsonstream.Progress{Current: 1000, Total: 2000}},
	{Status: "Verifying Checksum", ID: "a46fbb00284b", Progress: &jsonstream.Progress{}},
	{Status: "Download complete", ID: "a46fbb00284b", Progress: &jsonstream.Progress{}},
	{Status: "Extracting", ID: "a46fbb00284b", Progress: &jsonstream.Progress{Current: 2000, Total: 2000}},
	{Status: "Pull complete", ID: "a46fbb00284b", Progress: &jsonstream.Progress{}},
	{Status: "Digest: " + busyboxDig},
	{Status: "Status: Downloaded newer image for busybox:latest"},
}

func TestDockerParityStreams(t *testing.T) {
	f := newFakeAPI()
	d := newDockerRunner(t, f)
	aux := json.RawMessage(`{"Tag":"v1","Digest":"` + busyboxDig + `","Size":527}`)
	pushStream := []jsonstream.Message{
		{Status: "The push refers to repository [localhost:5000/busybox]"},
		{Status: "Preparing", ID: "a46fbb00284b", Progress: &jsonstream.Progress{}},
		{Status: "Pushing", ID: "a46fbb00284b", Progress: &jsonstream.Progress{Current: 100, Total: 2000}},
		{Status: "Pushed", ID: "a46fbb00284b", Progress: &jsonstream.Progress{}},
		{Status: "v1: digest: " + busyboxDig + " size: 527"},
		{Progress: &jsonstream.Progress{}, Aux: &aux},
	}
	failing := append(append([]jsonstream.Message{}, pullStream[:3]...),
		jsonstream.Message{Error: &jsonstream.Error{Message: "unexpected EOF"}})
	dir := t.TempDir()
	tarFile := filepath.Join(dir, "in.tar")
	if err := os.WriteFile(tarFile, []byte("TAR"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		stream []jsonstream.Message
		args   []string
	}{
		{pullStream, []string{"pull", "busybox"}},
		{pullStream, []string{"pull", "-q", "busybox"}},
		{pullStream, []string{"pull", "busybox@" + busyboxDig}},
		{pullStream, []string{"pull", "--platform", "linux/amd64", "localhost:5000/busybox:v1"}},
		{failing, []string{"pull", "busybox"}},
		{pushStream, []string{"push", "localhost:5000/busybox:v1"}},
		{pushStream, []string{"push", "-q", "localhost:5000/busybox"}},
		{[]jsonstream.Message{{Stream: "Loaded image: busybox:latest\n"}}, []string{"load", "-i", tarFile}},
		{[]jsonstream.Message{{Stream: "Loaded image: busybox:latest\n"}}, []string{"load", "-i", filepath.Join(dir, "nope")}},
		{[]jsonstream.Message{{Status: busyboxID}}, []string{"import", "-c", "CMD [\"sh\"]", "-m", "hi", tarFile, "x:1"}},
		{[]jsonstream.Message{{Status: busyboxID}}, []string{"import", filepath.Join(dir, "nope")}},
		{nil, []string{"save", "busybox", "-o", filepath.Join(dir, "nodir", "x.tar")}},
		{nil, []string{"save", "nope", "-o", filepath.Join(dir, "x.tar")}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f.locked(func() { f.stream, f.calls = tc.stream, nil })
			wantOut, wantErr, wantCode := d.run(tc.args...)
			var wantCalls []string
			var wantAuth string
			f.locked(func() { wantCalls, wantAuth, f.calls = f.calls, f.lastAuth, nil })
			gotOut, gotErr, gotCode := run(f, nil, "", tc.args...)
			wantErr = strings.ReplaceAll(wantErr, "docker", "corral")
			if gotOut != wantOut || gotErr != wantErr || gotCode != wantCode {
				t.Errorf("docker %v:\n--- docker (exit %d)\n%s%s--- corral (exit %d)\n%s%s",
					tc.args, wantCode, wantOut, "[stderr]\n"+wantErr, gotCode, gotOut, "[stderr]\n"+gotErr)
			}
			if strings.Join(f.calls, "\n") != strings.Join(wantCalls, "\n") || f.lastAuth != wantAuth {
				t.Errorf("calls: docker %q auth %q, corral %q auth %q", wantCalls, wantAuth, f.calls, f.lastAuth)
			}
		})
	}
}

func TestDockerParityLogin(t *testing.T) {
	f := newFakeAPI()
	d := newDockerRunner(t, f)
	creds := &fakeCreds{}
	steps := []struct {
		stdin string
		args  []string
	}{
		{"wrong\n", []string{"login", "-u", "user", "--password-stdin", "localhost:5000"}},
		{"secret\n", []string{"login", "-u", "user", "--password-stdin", "localhost:5000"}},
		{"", []string{"login", "localhost:5000"}},
		{"", []string{"pull", "localhost:5000/busybox:v1"}},
		{"", []string{"push", "localhost:5000/busybox:v1"}},
		{"", []string{"logout", "http://localhost:5000/"}},
		{"", []string{"pull", "localhost:5000/busybox:v1"}},
		{"", []string{"logout"}},
		{"", []string{"login", "-u", "user", "localhost:5000"}},
	}
	f.locked(func() { f.stream = pullStream })
	for _, s := range steps {
		cmd := exec.Command(d.docker, s.args...)
		cmd.Env = d.env
		cmd.Stdin = strings.NewReader(s.stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		wantCode := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			wantCode = ee.ExitCode()
		}
		var wantAuth string
		f.locked(func() { wantAuth = f.lastAuth })
		gotOut, gotErr, gotCode := run(f, creds, s.stdin, s.args...)
		var gotAuth string
		f.locked(func() { gotAuth = f.lastAuth })
		t.Logf("%v: exit %d auth %s\n%s%s", s.args, gotCode, gotAuth, gotOut, gotErr)
		if gotOut != out.String() || gotCode != wantCode || gotAuth != wantAuth {
			t.Errorf("%v:\n--- docker (exit %d, auth %s)\n%s[stderr]\n%s--- corral (exit %d, auth %s)\n%s[stderr]\n%s",
				s.args, wantCode, wantAuth, out.String(), errb.String(), gotCode, gotAuth, gotOut, gotErr)
		}
	}
}
