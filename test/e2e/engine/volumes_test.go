package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/volume"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/testutil"
)

// TestVolumes drives volumes and mounts through the real docker CLI and
// corral's own, on one daemon, each scenario in parallel.
func TestVolumes(t *testing.T) {
	e := newEngine(t)
	// An image with content to copy up: /seed/sub/f owned 1234:5678, mode
	// 0640, and a VOLUME at /seed.
	seed := e.name(t)
	e.ok(t, "run", "--name", seed, "busybox", "sh", "-c",
		"mkdir -p /seed/sub && echo seeded > /seed/sub/f && chown 1234:5678 /seed/sub/f && chmod 640 /seed/sub/f && chmod 710 /seed")
	e.ok(t, "commit", "-c", `VOLUME ["/seed"]`, seed, "seedimg")
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *engine)
	}{
		{"Commands", testVolumeCommands},
		{"CorralCLI", testVolumeCorralCLI},
		{"BadInput", testVolumeBadInput},
		{"InUse", testVolumeInUse},
		{"CopyUp", testVolumeCopyUp},
		{"SymlinkAttack", testVolumeSymlinkAttack},
		{"Binds", testVolumeBinds},
		{"Anonymous", testVolumeAnonymous},
		{"MountFlag", testVolumeMountFlag},
		{"ReadOnlyRootfs", testVolumeReadOnlyRootfs},
		{"VolumesFrom", testVolumesFrom},
		{"OptionsVolumes", testOptionsVolumes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, e)
		})
	}
}

// volumeName is a volume name for t, removed when t ends.
func (e *engine) volumeName(t *testing.T) string {
	t.Helper()
	n := strings.ReplaceAll(testutil.UniqueName(t), "/", "-")
	t.Cleanup(func() { e.docker(t, "", "volume", "rm", "-f", n) })
	return n
}

// volume inspects a volume through the API; ok false on 404.
func (e *engine) volume(t *testing.T, name string) (volume.Volume, bool) {
	t.Helper()
	var v volume.Volume
	st := e.api(t, "GET", "/volumes/"+name, nil, &v)
	return v, st == http.StatusOK
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func testVolumeCommands(t *testing.T, e *engine) {
	n := e.volumeName(t)
	if out := e.ok(t, "volume", "create", "--label", "team=a", n); out != n+"\n" {
		t.Fatalf("create printed %q", out)
	}
	v, ok := e.volume(t, n)
	if !ok || v.Driver != "local" || v.Labels["team"] != "a" || v.Scope != "local" ||
		v.Mountpoint != filepath.Join(e.root(), "volumes", n, "_data") {
		t.Fatalf("inspect: %+v", v)
	}
	if st, err := os.Stat(v.Mountpoint); err != nil || !st.IsDir() {
		t.Fatalf("mountpoint: %v", err)
	}
	if out := e.ok(t, "volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Labels.team}}", n); out != n+" local a\n" {
		t.Fatalf("docker volume inspect: %q", out)
	}
	if out := e.ok(t, "volume", "ls", "-q", "--filter", "label=team=a", "--filter", "name="+n); out != n+"\n" {
		t.Fatalf("ls -q filtered: %q", out)
	}
	if out := e.ok(t, "volume", "ls", "--format", "{{.Name}}:{{.Driver}}", "--filter", "dangling=true", "--filter", "name="+n); out != n+":local\n" {
		t.Fatalf("ls dangling: %q", out)
	}
	if out := e.ok(t, "volume", "ls"); !strings.Contains(out, "DRIVER    VOLUME NAME") || !strings.Contains(out, "local     "+n) {
		t.Fatalf("ls table: %q", out)
	}
	gen := strings.TrimSpace(e.ok(t, "volume", "create"))
	t.Cleanup(func() { e.docker(t, "", "volume", "rm", "-f", gen) })
	if !hex64.MatchString(gen) {
		t.Fatalf("generated name %q", gen)
	}
	if out := e.ok(t, "volume", "rm", n, gen); out != n+"\n"+gen+"\n" {
		t.Fatalf("rm printed %q", out)
	}
	if _, ok := e.volume(t, n); ok {
		t.Fatal("removed volume still answers")
	}
	if _, err := os.Stat(filepath.Join(e.root(), "volumes", n)); !os.IsNotExist(err) {
		t.Fatalf("directory left: %v", err)
	}
	if out := e.fails(t, 1, "volume", "rm", n); !strings.Contains(out, "Error response from daemon: get "+n+": no such volume") {
		t.Fatalf("rm missing: %q", out)
	}
	e.ok(t, "volume", "rm", "-f", n)
	// docker inspect finds volumes too.
	p := e.volumeName(t)
	e.ok(t, "volume", "create", p)
	if out := e.ok(t, "inspect", "-f", "{{.Mountpoint}}", p); !strings.HasSuffix(out, "/volumes/"+p+"/_data\n") {
		t.Fatalf("docker inspect: %q", out)
	}
	// prune -a with a label filter removes the named volume; plain prune
	// only anonymous ones.
	e.ok(t, "volume", "create", "--label", "prune="+p, p+"x")
	if out := e.ok(t, "volume", "prune", "-f", "--filter", "label=prune="+p); strings.Contains(out, p+"x") {
		t.Fatalf("prune without -a removed a named volume: %q", out)
	}
	if out := e.ok(t, "volume", "prune", "-a", "-f", "--filter", "label=prune="+p); !strings.Contains(out, "Deleted Volumes:\n"+p+"x\n") {
		t.Fatalf("prune -a: %q", out)
	}
}

func testVolumeCorralCLI(t *testing.T, e *engine) {
	n := e.volumeName(t)
	if r := e.corral(t, "", "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "--label", "x=y", n); r.code != 0 || r.stdout != n+"\n" {
		t.Fatalf("%v", r)
	}
	if r := e.corral(t, "", "volume", "ls", "-q", "--filter", "driver=local", "--filter", "name="+n); r.code != 0 || r.stdout != n+"\n" {
		t.Fatalf("%v", r)
	}
	r := e.corral(t, "", "volume", "inspect", n)
	var vs []volume.Volume
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &vs) != nil || len(vs) != 1 || vs[0].Options["type"] != "tmpfs" || vs[0].Labels["x"] != "y" {
		t.Fatalf("%v", r)
	}
	if r := e.corral(t, "", "volume", "rm", n); r.code != 0 || r.stdout != n+"\n" {
		t.Fatalf("%v", r)
	}
	if r := e.corral(t, "", "volume", "inspect", n); r.code != 1 || !strings.Contains(r.stderr, "no such volume") {
		t.Fatalf("%v", r)
	}
	if r := e.corral(t, "", "volume", "create", "bad/name"); r.code != 1 || !strings.Contains(r.stderr, "includes invalid characters for a local volume name") {
		t.Fatalf("%v", r)
	}
	// run with -v, --mount and a bind through corral's CLI.
	data := e.volumeName(t)
	dir := t.TempDir()
	if r := e.corral(t, "", "run", "--rm", "-v", data+":/data", "--mount", "type=bind,src="+dir+",dst=/h", "busybox",
		"sh", "-c", "echo vol > /data/f; echo bind > /h/f"); r.code != 0 {
		t.Fatalf("%v", r)
	}
	if r := e.corral(t, "", "run", "--rm", "--mount", "type=volume,src="+data+",dst=/d,readonly", "-v", dir+":/h:ro", "busybox",
		"sh", "-c", "cat /d/f /h/f; touch /d/x /h/x 2>/dev/null || echo refused"); r.code != 0 || r.stdout != "vol\nbind\nrefused\n" {
		t.Fatalf("%v", r)
	}
	// system df -v shows the volumes as docker's does.
	// (Other scenarios make volumes meanwhile: only this one's line and
	// the header are compared, spaces squeezed.)
	section := func(out string) string {
		var keep []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "VOLUME NAME") || strings.HasPrefix(l, data+" ") {
				keep = append(keep, strings.Join(strings.Fields(l), " "))
			}
		}
		return strings.Join(keep, "\n")
	}
	r = e.corral(t, "", "system", "df", "-v")
	want := section(e.ok(t, "system", "df", "-v"))
	if r.code != 0 || section(r.stdout) != want || !strings.Contains(want, data+" 0 4B") {
		t.Fatalf("df -v: %v\ndocker's volumes:\n%s", r, want)
	}
	if r := e.corral(t, "", "system", "df"); r.code != 0 || !regexp.MustCompile(`(?m)^Local Volumes\s+\d+`).MatchString(r.stdout) {
		t.Fatalf("%v", r)
	}
}

func testVolumeBadInput(t *testing.T, e *engine) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"volume", "create", "a"}, "volume name is too short"},
		{[]string{"volume", "create", "../etc"}, `"../etc" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`},
		{[]string{"volume", "create", "-o", "foo=bar", "okname"}, `invalid option: "foo"`},
		{[]string{"volume", "create", "-d", "nfs", "okname"}, `plugin "nfs" not found`},
	} {
		if out := e.fails(t, 1, tc.args...); !strings.Contains(out, tc.want) {
			t.Errorf("%v: %q, want %q", tc.args, out, tc.want)
		}
	}
	missing := filepath.Join(t.TempDir(), "nosuch")
	n := e.name(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mount", "type=bind,src=" + missing + ",dst=/x"}, `invalid mount config for type "bind": bind source path does not exist: ` + missing},
		{[]string{"-v", missing + ":/x"}, `invalid mount config for type "bind": bind source path does not exist: ` + missing},
		{[]string{"-v", "bad$name:/x"}, "includes invalid characters for a local volume name"},
		{[]string{"-v", "okname:rel"}, "mount path must be absolute"},
		{[]string{"-v", "okname:/x:rx"}, "invalid mode: rx"},
		{[]string{"-v", "okname:/x", "--mount", "type=volume,src=okname,dst=/x"}, "Duplicate mount point: /x"},
		{[]string{"--volumes-from", "nosuchctr"}, "No such container: nosuchctr"},
		{[]string{"--volume-driver", "nfs", "-v", "okname:/x"}, `plugin "nfs" not found`},
		{[]string{"--mount", "type=volume,src=okname,dst=/x,volume-opt=bogus=1"}, `invalid option: "bogus"`},
	} {
		args := append(append([]string{"create", "--name", n}, tc.args...), "busybox")
		if out := e.fails(t, 1, args...); !strings.Contains(out, tc.want) {
			t.Errorf("%v: %q, want %q", tc.args, out, tc.want)
		}
	}
	if e.exists(t, n) {
		t.Fatal("a refused create left a container")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatal("a refused bind created its source")
	}
	if _, ok := e.volume(t, "okname"); ok {
		t.Fatal("a refused create left its volume")
	}
}

func testVolumeInUse(t *testing.T, e *engine) {
	v := e.volumeName(t)
	n := e.name(t)
	id := strings.TrimSpace(e.ok(t, "create", "--name", n, "-v", v+":/data", "busybox"))
	if out := e.fails(t, 1, "volume", "rm", v); !strings.Contains(out, "remove "+v+": volume is in use - ["+id+"]") {
		t.Fatalf("rm in use: %q", out)
	}
	if out := e.fails(t, 1, "volume", "rm", "-f", v); !strings.Contains(out, "volume is in use") {
		t.Fatalf("rm -f in use: %q", out)
	}
	if out := e.ok(t, "ps", "-a", "-q", "--no-trunc", "--filter", "volume="+v); out != id+"\n" {
		t.Fatalf("ps --filter volume: %q", out)
	}
	if out := e.ok(t, "volume", "ls", "-q", "--filter", "dangling=false", "--filter", "name="+v); out != v+"\n" {
		t.Fatalf("dangling=false: %q", out)
	}
	c := e.inspect(t, n)
	if len(c.Mounts) != 1 || c.Mounts[0].Type != mount.TypeVolume || c.Mounts[0].Name != v || c.Mounts[0].Driver != "local" ||
		c.Mounts[0].Destination != "/data" || !c.Mounts[0].RW || c.Mounts[0].Source != filepath.Join(e.root(), "volumes", v, "_data") {
		t.Fatalf("inspect Mounts: %+v", c.Mounts)
	}
	e.ok(t, "start", "-a", n)
	e.ok(t, "rm", "-v", n)
	if _, ok := e.volume(t, v); !ok {
		t.Fatal("rm -v removed a named volume")
	}
	e.ok(t, "volume", "rm", v)
	out := e.ok(t, "events", "--since", "0", "--until", fmt.Sprint(time.Now().Add(time.Second).Unix()),
		"--filter", "volume="+v, "--format", "{{.Action}} {{index .Actor.Attributes \"container\"}}")
	if want := "create \nmount " + id + "\nunmount " + id + "\ndestroy \n"; out != want {
		t.Fatalf("volume events: %q, want %q", out, want)
	}
}

// testVolumeCopyUp: a new volume over a directory of the image gets its
// content, owners and modes; nocopy and a volume with content get none.
func testVolumeCopyUp(t *testing.T, e *engine) {
	v := e.volumeName(t)
	if out := e.ok(t, "run", "--rm", "-v", v+":/seed", "seedimg", "sh", "-c", "cat /seed/sub/f; stat -c '%u:%g %a' /seed/sub/f /seed"); out != "seeded\n1234:5678 640\n0:0 710\n" {
		t.Fatalf("copy-up: %q", out)
	}
	vv, _ := e.volume(t, v)
	if b, err := os.ReadFile(filepath.Join(vv.Mountpoint, "sub", "f")); err != nil || string(b) != "seeded\n" {
		t.Fatalf("volume on the host: %q %v", b, err)
	}
	nc := e.volumeName(t)
	if out := e.ok(t, "run", "--rm", "-v", nc+":/seed:nocopy", "seedimg", "ls", "-A", "/seed"); out != "" {
		t.Fatalf("nocopy: %q", out)
	}
	// The volume has content now: a second mount copies nothing over it.
	e.ok(t, "run", "--rm", "-v", nc+":/w", "busybox", "sh", "-c", "echo mine > /w/own")
	if out := e.ok(t, "run", "--rm", "-v", nc+":/seed", "seedimg", "ls", "-A", "/seed"); out != "own\n" {
		t.Fatalf("copy over content: %q", out)
	}
	// --mount volume-nocopy too.
	m := e.volumeName(t)
	if out := e.ok(t, "run", "--rm", "--mount", "type=volume,src="+m+",dst=/seed,volume-nocopy", "seedimg", "ls", "-A", "/seed"); out != "" {
		t.Fatalf("volume-nocopy: %q", out)
	}
}

// testVolumeSymlinkAttack: an image whose mount destination is a symlink
// out of the rootfs must neither copy the host's files into the volume
// nor mount the volume over a host directory.
func testVolumeSymlinkAttack(t *testing.T, e *engine) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	evil := e.name(t)
	rel := strings.Repeat("../", 12) + strings.TrimPrefix(host, "/")
	e.ok(t, "run", "--name", evil, "busybox", "sh", "-c", "ln -s "+host+" /abs && ln -s "+rel+" /rel")
	img := "evil" + strings.ToLower(strings.ReplaceAll(testutil.UniqueName(t), "/", "-"))
	e.ok(t, "commit", evil, img)
	t.Cleanup(func() { e.docker(t, "", "rmi", "-f", img) })
	for _, dest := range []string{"/abs", "/rel"} {
		v := e.volumeName(t)
		out := e.ok(t, "run", "--rm", "-v", v+":"+dest, img, "sh", "-c", "ls -A "+dest+"; echo planted > "+dest+"/planted")
		if out != "" {
			t.Errorf("%s: the container saw %q", dest, out)
		}
		vv, _ := e.volume(t, v)
		ents, _ := os.ReadDir(vv.Mountpoint)
		if len(ents) != 1 || ents[0].Name() != "planted" {
			t.Errorf("%s: volume holds %v, want only the planted file", dest, ents)
		}
		hostEnts, _ := os.ReadDir(host)
		if len(hostEnts) != 1 || hostEnts[0].Name() != "secret" {
			t.Errorf("%s: host directory now holds %v", dest, hostEnts)
		}
	}
}

func testVolumeBinds(t *testing.T, e *engine) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in"), []byte("from host"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := e.ok(t, "run", "--rm", "-v", dir+":/h", "busybox", "sh", "-c", "cat /h/in; echo back > /h/out"); out != "from host" {
		t.Fatalf("bind: %q", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out")); string(b) != "back\n" {
		t.Fatalf("written through the bind: %q", b)
	}
	r := e.docker(t, "", "run", "--rm", "-v", dir+":/h:ro", "busybox", "touch", "/h/x")
	if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Fatalf("ro bind: %v", r)
	}
	n := e.name(t)
	e.ok(t, "create", "--name", n, "-v", dir+":/h:ro", "--mount", "type=bind,src="+dir+",dst=/m", "busybox")
	c := e.inspect(t, n)
	if len(c.Mounts) != 2 || c.Mounts[0].Type != mount.TypeBind || c.Mounts[0].Source != dir || c.Mounts[0].Destination != "/h" ||
		c.Mounts[0].RW || c.Mounts[0].Mode != "ro" || c.Mounts[0].Propagation != "rprivate" || c.Mounts[1].Destination != "/m" || !c.Mounts[1].RW {
		t.Fatalf("inspect Mounts: %+v", c.Mounts)
	}
	// A file, SELinux modes (accepted, no labels here), propagation.
	file := filepath.Join(dir, "in")
	p := e.name(t)
	e.ok(t, "create", "--name", p, "-v", file+":/etc/in.conf:ro,z", "--mount", "type=bind,src="+dir+",dst=/p,bind-propagation=rslave",
		"busybox", "cat", "/etc/in.conf")
	if out := e.ok(t, "start", "-a", p); out != "from host" {
		t.Fatalf("file bind: %q", out)
	}
	for _, m := range e.inspect(t, p).Mounts {
		if m.Destination == "/p" && m.Propagation != "rslave" || m.Destination == "/etc/in.conf" && (m.Mode != "ro,z" || m.RW) {
			t.Errorf("mount %+v", m)
		}
	}
	// A bind mount whose BindOptions.CreateMountpoint is set (the API's
	// way; compose sets it) makes a missing host directory.
	missing := filepath.Join(dir, "made")
	body := `{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"bind","Source":"` + missing +
		`","Target":"/x","BindOptions":{"CreateMountpoint":true}}]}}`
	var created struct{ ID string }
	if st := e.api(t, "POST", "/containers/create", strings.NewReader(body), &created); st != http.StatusCreated {
		t.Fatalf("create with CreateMountpoint: status %d", st)
	}
	e.ok(t, "rm", created.ID)
	if st, err := os.Stat(missing); err != nil || !st.IsDir() {
		t.Fatalf("CreateMountpoint did not make the bind source: %v", err)
	}
}

// testVolumeAnonymous: -v /path and an image's VOLUME get anonymous
// volumes; rm -v and --rm remove them, not named ones.
func testVolumeAnonymous(t *testing.T, e *engine) {
	n := e.name(t)
	e.ok(t, "create", "--name", n, "-v", "/anon", "seedimg")
	c := e.inspect(t, n)
	if len(c.Mounts) != 2 {
		t.Fatalf("mounts: %+v", c.Mounts)
	}
	var names []string
	for _, m := range c.Mounts {
		v, ok := e.volume(t, m.Name)
		if m.Type != mount.TypeVolume || !hex64.MatchString(m.Name) || !ok {
			t.Fatalf("anonymous mount %+v", m)
		}
		if _, ok := v.Labels["com.docker.volume.anonymous"]; !ok {
			t.Fatalf("labels %v", v.Labels)
		}
		names = append(names, m.Name)
	}
	e.ok(t, "rm", "-v", n)
	for _, name := range names {
		if _, ok := e.volume(t, name); ok {
			t.Errorf("rm -v left %s", name)
		}
	}
	// --rm removes anonymous volumes and keeps named ones.
	named := e.volumeName(t)
	rn := e.name(t)
	e.ok(t, "create", "--rm", "--name", rn, "-v", named+":/named", "-v", "/anon2", "busybox", "true")
	var anon string
	for _, m := range e.inspect(t, rn).Mounts {
		if m.Destination == "/anon2" {
			anon = m.Name
		}
	}
	e.ok(t, "start", "-a", rn)
	eventually(t, 20*time.Second, rn+" removed", func() bool { return !e.exists(t, rn) })
	if _, ok := e.volume(t, named); !ok {
		t.Fatal("--rm removed a named volume")
	}
	if _, ok := e.volume(t, anon); anon == "" || ok {
		t.Fatalf("--rm left its anonymous volume %q", anon)
	}
}

func testVolumeMountFlag(t *testing.T, e *engine) {
	v := e.volumeName(t)
	out := e.ok(t, "run", "--rm", "--mount", "type=volume,src="+v+",dst=/v,volume-opt=type=tmpfs,volume-opt=device=tmpfs",
		"--mount", "type=tmpfs,dst=/t,tmpfs-size=1048576,tmpfs-mode=1770", "busybox", "sh", "-c",
		"grep -E ' /(t|v) ' /proc/mounts | cut -d' ' -f2,3,4 | sort; stat -c %a /t")
	want := regexp.MustCompile(`^/t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770\n/v tmpfs rw,relatime\n1770\n$`)
	if !want.MatchString(out) {
		t.Fatalf("--mount: %q", out)
	}
	vv, ok := e.volume(t, v)
	if !ok || vv.Options["type"] != "tmpfs" {
		t.Fatalf("volume made by --mount: %+v", vv)
	}
}

func testVolumeReadOnlyRootfs(t *testing.T, e *engine) {
	v := e.volumeName(t)
	out := e.ok(t, "run", "--rm", "--read-only", "-v", v+":/data", "busybox", "sh", "-c",
		"echo ok > /data/f && cat /data/f; touch /rootfile 2>&1 || true")
	if !strings.HasPrefix(out, "ok\n") || !strings.Contains(out, "Read-only file system") {
		t.Fatalf("read-only rootfs with a volume: %q", out)
	}
}

func testVolumesFrom(t *testing.T, e *engine) {
	v := e.volumeName(t)
	src := e.name(t)
	e.ok(t, "run", "--name", src, "-v", v+":/shared", "-v", t.TempDir()+":/robind:ro", "busybox", "sh", "-c", "echo from-src > /shared/f")
	if out := e.ok(t, "run", "--rm", "--volumes-from", src, "busybox", "cat", "/shared/f"); out != "from-src\n" {
		t.Fatalf("volumes-from: %q", out)
	}
	r := e.docker(t, "", "run", "--rm", "--volumes-from", src+":ro", "busybox", "touch", "/shared/x")
	if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Fatalf("volumes-from :ro: %v", r)
	}
	// rw does not make the source's read-only bind writable.
	r = e.docker(t, "", "run", "--rm", "--volumes-from", src+":rw", "busybox", "sh", "-c", "touch /shared/x && touch /robind/x")
	if r.code == 0 || !strings.Contains(r.stderr, "/robind/x") || !strings.Contains(r.stderr, "Read-only file system") {
		t.Fatalf("volumes-from :rw: %v", r)
	}
}

// testOptionsVolumes: a tmpfs volume and a bind volume are mounted while
// used and unmounted after.
func testOptionsVolumes(t *testing.T, e *engine) {
	tv := e.volumeName(t)
	e.ok(t, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m,uid=1000", tv)
	if out := e.ok(t, "run", "--rm", "-v", tv+":/t", "busybox", "sh", "-c", "grep ' /t ' /proc/mounts | cut -d' ' -f3,4"); out != "tmpfs rw,relatime,size=2048k,uid=1000\n" {
		t.Fatalf("tmpfs volume: %q", out)
	}
	vv, _ := e.volume(t, tv)
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), vv.Mountpoint) {
		t.Fatal("tmpfs volume still mounted after its container exited")
	}
	dir := t.TempDir()
	bv := e.volumeName(t)
	e.ok(t, "volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device="+dir, bv)
	e.ok(t, "run", "--rm", "-v", bv+":/b", "busybox", "sh", "-c", "echo through > /b/f")
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "through\n" {
		t.Fatalf("bind volume: %q", b)
	}
}

// TestVolumeSurvives: data in a named volume outlives its container and a
// daemon killed with SIGKILL, byte for byte.
func TestVolumeSurvives(t *testing.T) {
	e := newEngine(t)
	v := e.volumeName(t)
	w := e.name(t)
	sum := e.ok(t, "run", "--name", w, "-v", v+":/data", "busybox", "sh", "-c",
		"head -c 1048576 /dev/urandom > /data/blob && md5sum /data/blob")
	e.ok(t, "rm", w)
	if out := e.ok(t, "run", "--rm", "-v", v+":/data", "busybox", "md5sum", "/data/blob"); out != sum {
		t.Fatalf("after rm: %q, want %q", out, sum)
	}
	// A container holding the volume across the kill.
	holder := e.runD(t, "-v", v+":/data", "busybox", "sleep", "1000")
	e.kill9(t)
	e.restart(t)
	if out := e.ok(t, "exec", holder, "md5sum", "/data/blob"); out != sum {
		t.Fatalf("after kill -9, in the running container: %q, want %q", out, sum)
	}
	if out := e.fails(t, 1, "volume", "rm", v); !strings.Contains(out, "volume is in use") {
		t.Fatalf("in use after restart: %q", out)
	}
	e.ok(t, "rm", "-f", holder)
	// A tmpfs volume stays mounted for its container across the kill, and
	// is unmounted when the container is gone.
	tv := e.volumeName(t)
	e.ok(t, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", tv)
	th := e.runD(t, "-v", tv+":/t", "busybox", "sh", "-c", "echo kept > /t/f; exec sleep 1000")
	eventually(t, 20*time.Second, "the tmpfs file", func() bool {
		return e.docker(t, "", "exec", th, "cat", "/t/f").stdout == "kept\n"
	})
	e.kill9(t)
	e.restart(t)
	vv, _ := e.volume(t, tv)
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); !strings.Contains(string(mi), vv.Mountpoint) {
		t.Fatal("tmpfs volume unmounted by the restart under its running container")
	}
	if b, err := os.ReadFile(filepath.Join(vv.Mountpoint, "f")); err != nil || string(b) != "kept\n" {
		t.Fatalf("tmpfs volume after restart: %q %v", b, err)
	}
	e.ok(t, "rm", "-f", th)
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), vv.Mountpoint) {
		t.Fatal("tmpfs volume still mounted after its container was removed")
	}
	if out := e.ok(t, "run", "--rm", "-v", v+":/data", "busybox", "md5sum", "/data/blob"); out != sum {
		t.Fatalf("after restart: %q, want %q", out, sum)
	}
	e.ok(t, "volume", "rm", v)
}

// TestVolumeSurvivesReboot: a named volume's content outlives a reboot of
// the host as the engine sees one: the daemon, every monitor and container
// process killed, every mount under the exec root gone and the exec root
// (a tmpfs under /run) emptied. The container that used the volume comes
// back exited, and the volume is intact, usable and removable.
func TestVolumeSurvivesReboot(t *testing.T) {
	e := newEngine(t)
	v := e.volumeName(t)
	sum := e.ok(t, "run", "--rm", "-v", v+":/data", "busybox", "sh", "-c",
		"head -c 1048576 /dev/urandom > /data/blob && md5sum /data/blob")
	holder := e.runD(t, "-v", v+":/data", "busybox", "sleep", "1000")
	id := e.inspect(t, holder).ID
	pids := []int{e.inspect(t, holder).State.Pid}
	pids = append(pids, monitorPids(t, execRoot(e))...)
	e.kill9(t)
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	eventually(t, 20*time.Second, "the killed processes to go", func() bool {
		for _, pid := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				return false
			}
		}
		return true
	})
	removeCgroups(t, id)
	unmountUnder(t, execRoot(e))
	if err := os.RemoveAll(execRoot(e)); err != nil {
		t.Fatal(err)
	}
	e.restart(t)
	if st := e.inspect(t, holder).State; st.Running || st.Status != "exited" {
		t.Fatalf("after the reboot the holder is %s", st.Status)
	}
	if out := e.ok(t, "run", "--rm", "-v", v+":/data", "busybox", "md5sum", "/data/blob"); out != sum {
		t.Fatalf("after the reboot: %q, want %q", out, sum)
	}
	e.ok(t, "rm", holder)
	e.ok(t, "volume", "rm", v)
}

// monitorPids answers the pids in the monitor.pid files under execRoot.
func monitorPids(t *testing.T, execRoot string) []int {
	files, err := filepath.Glob(filepath.Join(execRoot, "monitors", "*", "monitor.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 0 {
			t.Fatalf("%s: %q", f, b)
		}
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		t.Fatal("no monitor.pid under " + execRoot)
	}
	return pids
}

// unmountUnder detaches every mount at or under dir, deepest first, as a
// reboot would have them gone.
func unmountUnder(t *testing.T, dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			t.Fatalf("unmount %s: %v", p, err)
		}
	}
}

// removeCgroups removes container id's (empty) cgroup directories on every
// hierarchy, which a reboot would have taken with it.
func removeCgroups(t *testing.T, id string) {
	dirs, err := filepath.Glob("/sys/fs/cgroup/*/corral/" + id)
	if err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, "/sys/fs/cgroup/corral/"+id)
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("remove cgroup %s: %v", d, err)
		}
	}
}
