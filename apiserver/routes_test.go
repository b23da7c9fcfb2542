package apiserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// do sends one request to a server over f and answers the recorder.
func do(t *testing.T, s *Server, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// q escapes a query value.
func q(s string) string { return url.QueryEscape(s) }

// TestRouteParsing sends what the docker CLI and docker-py send to every
// route, versioned and not, and checks the backend call it becomes.
func TestRouteParsing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, path, body string
		hdr                []string
		status             int
		call               string
	}{
		{"GET", "/info", "", nil, 200, "Info"},
		{"GET", "/events?since=1700000000.000000001&until=1700000001&filters=" + q(`{"type":{"container":true}}`), "", nil, 200,
			`Events since=1700000000 until=1700000001 filters={"type":{"container":true}}`},
		{"GET", "/system/df", "", nil, 200, "DiskUsage"},
		{"GET", "/images/json?all=1&shared-size=True&filters=" + q(`{"dangling":{"true":true}}`), "", nil, 200,
			`ImageList all=true shared=true filters={"dangling":{"true":true}}`},
		{"GET", "/images/json?filters=" + q(`{"label":["a=b"]}`), "", nil, 200, `ImageList all=false shared=false filters={"label":{"a=b":true}}`},
		{"POST", "/images/create?fromImage=docker.io/library/busybox&tag=latest", "", []string{"X-Registry-Auth", "e30="}, 200,
			"ImagePull docker.io/library/busybox:latest {All:false RegistryAuth:e30= Platform:}"},
		{"POST", "/images/create?tag=1.36&fromImage=busybox&platform=linux/arm64", "", nil, 200,
			"ImagePull busybox:1.36 {All:false RegistryAuth: Platform:linux/arm64}"},
		{"POST", "/images/create?fromImage=localhost:5000/foo/bar&tag=sha256:abcd", "", nil, 200,
			"ImagePull localhost:5000/foo/bar@sha256:abcd {All:false RegistryAuth: Platform:}"},
		{"POST", "/images/create?fromSrc=-&repo=imp&tag=v1&message=m&changes=CMD+sh&changes=ENV+A%3D1", "ROOTFS", nil, 200,
			`ImageImport "imp:v1" {Message:m Changes:[CMD sh ENV A=1] Platform:}`},
		{"POST", "/images/create", "", nil, 400, ""},
		{"GET", "/images/localhost:5000/foo/bar:v1/json", "", nil, 200, "ImageInspect localhost:5000/foo/bar:v1"},
		{"GET", "/images/sha256:0123/json", "", nil, 200, "ImageInspect sha256:0123"},
		{"GET", "/images/docker.io/library/busybox/history", "", nil, 200, "ImageHistory docker.io/library/busybox"},
		{"POST", "/images/busybox/tag?repo=localhost:5000/busybox&tag=latest", "", nil, 201, "ImageTag busybox localhost:5000/busybox:latest"},
		{"POST", "/images/busybox/tag", "", nil, 400, ""},
		{"POST", "/images/localhost:5000/busybox/push?tag=latest", "", []string{"X-Registry-Auth", "abc"}, 200,
			"ImagePush localhost:5000/busybox:latest all=false auth=abc platform=<nil>"},
		{"POST", "/images/docker.io/library/x/push", "", nil, 200, "ImagePush docker.io/library/x all=true auth= platform=<nil>"},
		{"DELETE", "/images/localhost:5000/x:1?force=1&noprune=False", "", nil, 200, "ImageRemove localhost:5000/x:1 {Force:true PruneChildren:true}"},
		{"GET", "/images/get?names=busybox&names=alpine:3", "", nil, 200, `ImageSave ["busybox" "alpine:3"]`},
		{"GET", "/images/localhost:5000/x/get", "", nil, 200, `ImageSave ["localhost:5000/x"]`},
		{"POST", "/images/load?quiet=1", "TAR", nil, 200, "ImageLoad {Quiet:true}"},
		{"POST", "/images/prune?filters=" + q(`{"dangling":["false"]}`), "", nil, 200, `ImagesPrune {"dangling":{"false":true}}`},
		{"POST", "/auth", `{"username":"u","password":"p","serveraddress":"localhost:5000"}`, nil, 200, "RegistryLogin u@localhost:5000"},
		{"POST", "/build?dockerfile=Dockerfile&t=x&t=y:2&version=1&buildargs=" + q(`{"A":"1"}`) + "&labels=" + q(`{"l":"v"}`) + "&nocache=1",
			"", nil, 200, `Build t=["x" "y:2"] file=Dockerfile args={"A":"1"} labels=map[l:v] rm=true nocache=true`},
		{"POST", "/build?version=2", "", nil, 501, ""},
		{"POST", "/build/prune?all=1", "", nil, 200, "BuildPrune all=true"},
		{"POST", "/containers/create?name=web", `{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"default"}}`, nil, 201,
			`ContainerCreate name=web platform= image=busybox cmd=["true"] host=true`},
		{"POST", "/containers/abc/start", "", nil, 204, "ContainerStart abc"},
		{"POST", "/containers/web/stop?t=10", "", nil, 204, "ContainerStop web signal= t=10"},
		{"POST", "/containers/web/stop", "", nil, 204, "ContainerStop web signal= t=nil"},
		{"POST", "/containers/web/restart?signal=SIGINT&t=0", "", nil, 204, "ContainerRestart web signal=SIGINT t=0"},
		{"POST", "/containers/web/kill?signal=TERM", "", nil, 204, "ContainerKill web TERM"},
		{"POST", "/containers/web/pause", "", nil, 204, "ContainerPause web"},
		{"POST", "/containers/web/unpause", "", nil, 204, "ContainerUnpause web"},
		{"DELETE", "/containers/c1?v=False&link=False&force=False", "", nil, 204,
			"ContainerRemove c1 {Force:false RemoveVolumes:false RemoveLinks:false}"},
		{"DELETE", "/containers/k?force=1&v=true", "", nil, 204, "ContainerRemove k {Force:true RemoveVolumes:true RemoveLinks:false}"},
		{"POST", "/containers/c1/wait?condition=removed", "", nil, 200, "ContainerWait c1 removed"},
		{"POST", "/containers/c1/wait?condition=bogus", "", nil, 400, ""},
		{"GET", "/containers/json?limit=-1&all=0&size=0&trunc_cmd=0&filters=" +
			q(`{"label": ["com.docker.compose.project=demo", "com.docker.compose.oneoff=False"]}`), "", nil, 200,
			`ContainerList all=false limit=-1 size=false filters={"label":{"com.docker.compose.oneoff=False":true,"com.docker.compose.project=demo":true}}`},
		{"GET", "/containers/json?all=1", "", nil, 200, "ContainerList all=true limit=-1 size=false filters={}"},
		{"GET", "/containers/json?limit=x", "", nil, 400, ""},
		{"GET", "/containers/web/json?size=1", "", nil, 200, "ContainerInspect web size=true"},
		{"GET", "/containers/web/top?ps_args=aux", "", nil, 200, "ContainerTop web aux"},
		{"GET", "/containers/web/changes", "", nil, 200, "ContainerChanges web"},
		{"GET", "/containers/web/stats?stream=0", "", nil, 200, "ContainerStats web {Stream:false OneShot:false}"},
		{"GET", "/containers/web/stats?stream=1&one-shot=1", "", nil, 400, ""},
		{"GET", "/containers/web/logs?stderr=1&stdout=1&timestamps=0&follow=0&tail=all&since=5", "", nil, 200,
			"ContainerLogs web follow=false out=true err=true ts=false tail=-1 since=5"},
		{"GET", "/containers/web/logs?stdout=1&tail=10&follow=1", "", nil, 200,
			"ContainerLogs web follow=true out=true err=false ts=false tail=10 since=-62135596800"},
		{"GET", "/containers/web/logs", "", nil, 400, ""},
		{"POST", "/containers/web/resize?h=24&w=80", "", nil, 200, "ContainerResize web 24x80"},
		{"POST", "/containers/web/resize?h=24", "", nil, 400, ""},
		{"POST", "/containers/web/exec", `{"AttachStdout":true,"Cmd":["echo","hi"],"Tty":false}`, nil, 201, `ExecCreate web cmd=["echo" "hi"] tty=false`},
		{"POST", "/containers/web/exec", `{"Cmd":[]}`, nil, 400, ""},
		{"POST", "/exec/e1/start", `{"Detach":true}`, nil, 200, "ExecStart e1 detach=true tty=false"},
		{"POST", "/exec/e1/resize?h=30&w=100", "", nil, 200, "ExecResize e1 30x100"},
		{"GET", "/exec/e1/json", "", nil, 200, "ExecInspect e1"},
		{"HEAD", "/containers/web/archive?path=/tmp/", "", nil, 200, "ContainerStatPath web /tmp/"},
		{"GET", "/containers/web/archive?path=/etc/hostname", "", nil, 200, "ContainerArchivePath web /etc/hostname"},
		{"GET", "/containers/web/archive", "", nil, 400, ""},
		{"PUT", "/containers/web/archive?noOverwriteDirNonDir=true&path=/tmp/", "TAR", nil, 200,
			"ContainerExtractToDir web /tmp/ {NoOverwriteDirNonDir:true CopyUIDGID:false}"},
		{"GET", "/containers/web/export", "", nil, 200, "ContainerExport web"},
		{"POST", "/containers/web/rename?name=web2", "", nil, 204, "ContainerRename web web2"},
		{"POST", "/containers/web/update", `{"Memory":1048576,"RestartPolicy":{"Name":"always"}}`, nil, 200,
			"ContainerUpdate web memory=1048576 restart=always"},
		{"POST", "/containers/prune?filters=" + q(`{"until":{"24h":true}}`), "", nil, 200, `ContainersPrune {"until":{"24h":true}}`},
		{"POST", "/commit?container=web&repo=img&tag=v1&changes=CMD+sh&pause=0", `{"Cmd":["sh"]}`, nil, 201,
			`ContainerCommit web img:v1 pause=false changes=["CMD sh"] config=true`},
		{"POST", "/commit?container=web", "", nil, 201, `ContainerCommit web : pause=true changes=[] config=false`},
		{"GET", "/networks?filters=" + q(`{"label":["com.docker.compose.project=demo"]}`), "", nil, 200,
			`NetworkList {"label":{"com.docker.compose.project=demo":true}}`},
		{"GET", "/networks/demo_front?verbose=1", "", nil, 200, "NetworkInspect demo_front true"},
		{"POST", "/networks/create", `{"Name":"demo_front","CheckDuplicate":true,"Attachable":true,"Labels":{"a":"b"}}`, nil, 201,
			"NetworkCreate demo_front driver= labels=map[a:b]"},
		{"POST", "/networks/create", `{}`, nil, 400, ""},
		{"DELETE", "/networks/demo_front", "", nil, 204, "NetworkRemove demo_front"},
		{"POST", "/networks/demo_front/connect", `{"Container":"c1","EndpointConfig":{"Aliases":["web","c1"]}}`, nil, 200,
			`NetworkConnect demo_front c1 ["web" "c1"]`},
		{"POST", "/networks/demo_front/disconnect", `{"Container":"c1"}`, nil, 200, "NetworkDisconnect demo_front c1 force=false"},
		{"POST", "/networks/prune", "", nil, 200, "NetworksPrune {}"},
		{"GET", "/volumes", "", nil, 200, "VolumeList {}"},
		{"POST", "/volumes/create", `{"Driver":"local","Name":"v2"}`, nil, 201, "VolumeCreate v2 local"},
		{"POST", "/volumes/create", "", nil, 201, "VolumeCreate  "},
		{"GET", "/volumes/v2", "", nil, 200, "VolumeInspect v2"},
		{"DELETE", "/volumes/v2?force=True", "", nil, 204, "VolumeRemove v2 force=true"},
		{"POST", "/volumes/prune", "", nil, 200, "VolumesPrune {}"},
	}
	for _, tt := range tests {
		for _, prefix := range []string{"", "/v1.47", "/v1.24"} {
			t.Run(tt.method+" "+prefix+tt.path, func(t *testing.T) {
				t.Parallel()
				f := newFake()
				s := New(f.config())
				w := do(t, s, tt.method, prefix+tt.path, tt.body, tt.hdr...)
				if w.Code != tt.status {
					t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
				}
				if got := f.last(t); got != tt.call {
					t.Errorf("backend call\n got %q\nwant %q", got, tt.call)
				}
				if w.Code >= 400 {
					var e errorBody
					if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Message == "" {
						t.Errorf("error body %q: want {\"message\":...}", w.Body)
					}
				}
			})
		}
	}
}

// TestBodies checks what the routes read from request bodies.
func TestBodies(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ method, path string }{
		{"POST", "/images/create?fromSrc=-"},
		{"POST", "/images/load"},
		{"PUT", "/containers/c/archive?path=/"},
		{"POST", "/build"},
	} {
		f := newFake()
		r := httptest.NewRequest(tt.method, tt.path, strings.NewReader("BODY"))
		r.Header.Set("Content-Type", "application/x-tar")
		w := httptest.NewRecorder()
		New(f.config()).ServeHTTP(w, r)
		if w.Code != 200 || f.body != "BODY" {
			t.Errorf("%s %s: status %d, backend read %q; want 200 and BODY", tt.method, tt.path, w.Code, f.body)
		}
	}
}
