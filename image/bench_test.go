package image_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/registry"
	"github.com/corral-dev/corral/testutil"
)

// TestPullBench times a pull of the OCI layout image $CORRAL_BENCH_LAYOUT
// ("dir:tag") served by Debian's docker-registry on loopback, into a fresh
// store each time, beside `podman pull` and `skopeo copy` + `umoci
// unpack`, in one sitting, $CORRAL_BENCH_RUNS times each (default 3), and
// logs the medians and ratios. It is skipped unless the variable is set:
//
//	CORRAL_BENCH_LAYOUT=/tmp/bench/oci:bench go test -run TestPullBench -v ./image
func TestPullBench(t *testing.T) {
	layout := os.Getenv("CORRAL_BENCH_LAYOUT")
	if layout == "" {
		t.Skip("set CORRAL_BENCH_LAYOUT=<oci layout dir>:<tag> to run")
	}
	testutil.RequireRoot(t)
	runs, _ := strconv.Atoi(os.Getenv("CORRAL_BENCH_RUNS"))
	if runs <= 0 {
		runs = 3
	}
	work := t.TempDir()
	host := startRegistry(t, work)
	ref := host + "/bench:latest"
	run(t, "skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false", "oci:"+layout, "docker://"+ref)

	tools := []struct {
		name string
		pull func(t *testing.T, dir, ref string)
	}{{"corral pull", corralPull}, {"podman pull", podmanPull}, {"skopeo+umoci", skopeoUmoci}}
	only := os.Getenv("CORRAL_BENCH_ONLY") // "corral" to time corral alone
	results := map[string][]time.Duration{}
	var names []string
	for i := range runs {
		for _, tool := range tools {
			if only != "" && !strings.HasPrefix(tool.name, only) {
				continue
			}
			if i == 0 {
				names = append(names, tool.name)
			}
			dir := filepath.Join(work, fmt.Sprint(strings.Fields(tool.name)[0], i))
			results[tool.name] = append(results[tool.name], timeIt(t, func() { tool.pull(t, dir, ref) }))
		}
	}
	base := median(results["corral pull"])
	for _, name := range names {
		m := median(results[name])
		t.Logf("%-13s median %6.2fs  runs %v  corral/this %.2f", name, m.Seconds(), results[name], base.Seconds()/m.Seconds())
	}
}

func timeIt(t *testing.T, fn func()) time.Duration {
	t.Helper()
	start := time.Now()
	fn()
	return time.Since(start).Round(10 * time.Millisecond)
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// startRegistry runs docker-registry on a free loopback port and returns
// its host:port.
func startRegistry(t *testing.T, work string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := filepath.Join(work, "registry.yml")
	yml := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n",
		filepath.Join(work, "registry"), addr)
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/docker-registry", "serve", cfg)
	if err := cmd.Start(); err != nil {
		t.Skipf("needs docker-registry (apt-get install docker-registry): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 100 {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("docker-registry did not start")
	return ""
}

func corralPull(t *testing.T, root, ref string) {
	t.Helper()
	s, err := image.Open(context.Background(), root, registry.New(registry.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	progress := func(p image.Progress) {
		if os.Getenv("CORRAL_BENCH_TRACE") != "" && p.Action != image.ActionDownloading && p.Action != image.ActionExtracting {
			t.Logf("%6.2fs %s %s", time.Since(start).Seconds(), p.ID, p.Action)
		}
	}
	if _, err := s.Pull(context.Background(), ref, image.PullOptions{Progress: progress}); err != nil {
		t.Fatal(err)
	}
}

func podmanPull(t *testing.T, root, ref string) {
	t.Helper()
	args := []string{"--root", filepath.Join(root, "root"), "--runroot", filepath.Join(root, "run"),
		"--storage-driver", "overlay", "--events-backend", "file", "--cgroup-manager", "cgroupfs"}
	run(t, "podman", append(args, "pull", "-q", "--tls-verify=false", ref)...)
	t.Cleanup(func() { exec.Command("podman", append(args, "system", "reset", "-f")...).Run() })
}

func skopeoUmoci(t *testing.T, dir, ref string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "oci:"+filepath.Join(dir, "oci")+":latest")
	run(t, "umoci", "unpack", "--image", filepath.Join(dir, "oci")+":latest", filepath.Join(dir, "bundle"))
}
