package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// archiveFiles lists the members of a tar.
func archiveFiles(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = b
	}
}

func TestSaveLoadDockerArchive(t *testing.T) {
	ctx := context.Background()
	src := newTestStore(t)
	ti := threeLayers(t, true)
	ti.push(src.reg, "docker.io/library/three", "latest")
	if _, err := src.Pull(ctx, "three", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := src.Tag(ctx, "three", "three:v2"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := src.Save(ctx, []string{"three"}, &buf, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	files := archiveFiles(t, buf.Bytes())
	var entries []dockerEntry
	mustUnmarshal(t, files["manifest.json"], &entries)
	if len(entries) != 1 || strings.Join(entries[0].RepoTags, ",") != "three:latest,three:v2" || len(entries[0].Layers) != 3 {
		t.Fatalf("manifest.json: %s", files["manifest.json"])
	}
	for i, l := range entries[0].Layers {
		if l != "blobs/sha256/"+ti.diffIDs[i].Encoded() || digest.FromBytes(files[l]) != ti.diffIDs[i] {
			t.Errorf("layer %d: %s", i, l)
		}
	}
	for _, f := range []string{"index.json", "oci-layout", "repositories", entries[0].Config} {
		if _, ok := files[f]; !ok {
			t.Errorf("no %s in the archive", f)
		}
	}
	dst := newTestStore(t)
	loaded, err := dst.Load(ctx, bytes.NewReader(buf.Bytes()), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 2 || loaded[0].ID != ti.configDigest() || loaded[0].Name != "three:latest" {
		t.Fatalf("loaded %+v", loaded)
	}
	checkUnpacked(t, dst, ti)
	// Layers are stored uncompressed: their blobs are the diff IDs.
	for _, d := range ti.diffIDs {
		if !dst.mem.has(d) {
			t.Errorf("layer blob %s not stored as is", d)
		}
	}
	// The loaded archive saves back to the same archive.
	var again bytes.Buffer
	if err := dst.Save(ctx, []string{"three:latest", "three:v2"}, &again, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Error("save of a loaded image differs from the original archive")
	}
	if n := countLeases(t, dst.Store); n != 0 {
		t.Errorf("%d leases left", n)
	}
}

func TestSaveLoadOCIArchive(t *testing.T) {
	ctx := context.Background()
	src := newTestStore(t)
	ti := threeLayers(t, false)
	ti.push(src.reg, "localhost:5000/three", "v1")
	if _, err := src.Pull(ctx, "localhost:5000/three:v1", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := src.Save(ctx, []string{"localhost:5000/three:v1", ti.configDigest().String()}, &buf, SaveOptions{Format: FormatOCIArchive}); err != nil {
		t.Fatal(err)
	}
	files := archiveFiles(t, buf.Bytes())
	if _, ok := files["manifest.json"]; ok {
		t.Error("OCI archive has manifest.json")
	}
	dst := newTestStore(t)
	loaded, err := dst.Load(ctx, bytes.NewReader(gzipBytes(t, buf.Bytes())), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].Name != "localhost:5000/three:v1" {
		t.Fatalf("loaded %+v", loaded)
	}
	img, err := dst.Get(ctx, "localhost:5000/three:v1")
	if err != nil || img.Target.Digest != ti.manifestDigest() || img.ID != ti.configDigest() {
		t.Fatalf("image %+v %v", img, err)
	}
	checkUnpacked(t, dst, ti)
}

func TestLoadLegacyDockerArchive(t *testing.T) {
	// docker save before 25: <id>/layer.tar, <id>/json, VERSION,
	// manifest.json naming them, repositories; podman's: <hex>.tar with
	// <id>/layer.tar symlinks to it.
	ctx := context.Background()
	ti := threeLayers(t, false)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(data)
	}
	var layers []string
	for i, gz := range ti.layers {
		raw := mustGunzip(t, gz)
		id := strings.Repeat(string(rune('a'+i)), 64)
		if i == 1 { // podman style
			add(ti.diffIDs[i].Encoded()+".tar", raw)
			_ = tw.WriteHeader(&tar.Header{Name: id + "/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../" + ti.diffIDs[i].Encoded() + ".tar"})
		} else {
			add(id+"/layer.tar", raw)
		}
		add(id+"/VERSION", []byte("1.0"))
		add(id+"/json", []byte(`{"id":"`+id+`"}`))
		layers = append(layers, id+"/layer.tar")
	}
	add(ti.configDigest().Encoded()+".json", ti.config)
	add("repositories", []byte(`{"legacy":{"old":"`+strings.Repeat("c", 64)+`"}}`))
	add("manifest.json", mustJSON(t, []dockerEntry{{Config: ti.configDigest().Encoded() + ".json", RepoTags: []string{"legacy:old"}, Layers: layers}}))
	_ = tw.Close()
	dst := newTestStore(t)
	var ev events
	loaded, err := dst.Load(ctx, &buf, LoadOptions{Progress: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].Name != "legacy:old" || loaded[0].ID != ti.configDigest() {
		t.Fatalf("loaded %+v", loaded)
	}
	checkUnpacked(t, dst, ti)
	if !ev.has(ActionLoading) {
		t.Errorf("no %q events: %+v", ActionLoading, ev.all)
	}
}

func mustGunzip(t *testing.T, gz []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := applyGunzip(&out, gz); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestLoadBadArchives(t *testing.T) {
	ctx := context.Background()
	ti := threeLayers(t, false)
	archive := func(files map[string][]byte) *bytes.Reader {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for n, d := range files {
			_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(d)), Typeflag: tar.TypeReg})
			_, _ = tw.Write(d)
		}
		_ = tw.Close()
		return bytes.NewReader(buf.Bytes())
	}
	big := bytes.Repeat([]byte("x"), smallFile+1)
	for name, tc := range map[string]struct {
		files map[string][]byte
		want  string
	}{
		"empty":          {map[string][]byte{"hello": []byte("hi")}, "not an image archive"},
		"missing layer":  {map[string][]byte{"c.json": ti.config, "manifest.json": []byte(`[{"Config":"c.json","Layers":["a/layer.tar","b","c"]}]`)}, "not in the archive"},
		"escaping paths": {map[string][]byte{"../c.json": ti.config, "manifest.json": []byte(`[{"Config":"../../c.json","Layers":[]}]`)}, "0 layers but the config has 3"},
		"bad blob":       {map[string][]byte{"blobs/sha256/" + strings.Repeat("0", 64): big, "index.json": []byte(`{"schemaVersion":2,"manifests":[]}`)}, "has digest"},
		"lying config":   {map[string][]byte{"c.json": ti.config, "l": mustGunzip(t, ti.layers[1]), "manifest.json": []byte(`[{"Config":"c.json","Layers":["l","l","l"]}]`)}, "uncompressed digest"},
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestStore(t)
			_, err := ts.Load(ctx, archive(tc.files), LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("load: %v, want %q", err, tc.want)
			}
			assertEmpty(t, ts)
		})
	}
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	ts := newTestStore(t)
	rootfs := layerTar(t, file{name: "bin/", typ: '5'}, file{name: "bin/hello", body: "hello", mode: 0o755})
	img, err := ts.Import(ctx, bytes.NewReader(rootfs), ImportOptions{Ref: "imported:v1", Changes: []string{
		`CMD ["/bin/hello", "world"]`, `ENV A=1 B="two words"`, "EXPOSE 80 53/udp", "WORKDIR /srv", `LABEL org.example="x y"`, "USER 1000",
	}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := ts.Inspect(ctx, "imported:v1")
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if info.ID != img.ID.String() || strings.Join(c.Cmd, " ") != "/bin/hello world" || strings.Join(c.Env, ",") != "A=1,B=two words" ||
		c.WorkingDir != "/srv" || c.User != "1000" || c.Labels["org.example"] != "x y" || len(c.ExposedPorts) != 2 {
		t.Errorf("inspect: %+v config %+v", info, c)
	}
	if len(info.RootFS.Layers) != 1 || info.RootFS.Layers[0] != digest.FromBytes(rootfs).String() || info.Os != "linux" || info.Architecture != "amd64" {
		t.Errorf("rootfs/platform: %+v", info)
	}
	if info.Size != 5 || strings.Join(info.RepoTags, ",") != "imported:v1" {
		t.Errorf("size %d tags %v", info.Size, info.RepoTags)
	}
	hist, err := ts.History(ctx, "imported:v1")
	if err != nil || len(hist) != 1 || hist[0].Comment != "Imported from -" || hist[0].ID != img.ID.String() || hist[0].Size != 5 {
		t.Errorf("history %+v %v", hist, err)
	}
	b, err := os.ReadFile(filepath.Join(ts.snaps.dir(digest.FromBytes(rootfs).String()), "bin/hello"))
	if err != nil || string(b) != "hello" {
		t.Errorf("unpacked: %q %v", b, err)
	}
	// The layer is stored gzip compressed.
	r, err := ts.resolve(ctx, img.Target)
	if err != nil || r.Manifest.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Errorf("layer %+v %v", r.Manifest.Layers, err)
	}
	if _, err := ts.Import(ctx, strings.NewReader("not a tar at all, not at all"), ImportOptions{}); err == nil {
		t.Error("imported garbage")
	}
	if _, err := ts.Import(ctx, bytes.NewReader(rootfs), ImportOptions{Changes: []string{"RUN rm -rf /"}}); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("RUN change: %v", err)
	}
}

func TestApplyChanges(t *testing.T) {
	var c ContainerConfig
	err := ApplyChanges(&c, []string{"ENTRYPOINT /bin/sh -c 'x'", "ENV PATH /usr/bin:/bin", "VOLUME [\"/data\", \"/logs\"]", "STOPSIGNAL SIGINT", "ONBUILD RUN x"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Entrypoint, "|") != "/bin/sh|-c|/bin/sh -c 'x'" || c.Env[0] != "PATH=/usr/bin:/bin" || len(c.Volumes) != 2 || c.StopSignal != "SIGINT" || len(c.OnBuild) != 1 {
		t.Errorf("config %+v", c)
	}
	for _, bad := range []string{"EXPOSE http", "LABEL novalue", `ENV A="unterminated`, "FROM x"} {
		if err := ApplyChanges(&c, []string{bad}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestSkopeoReadsArchives: what Save writes, skopeo reads and converts,
// and what skopeo writes (the docker-archive and OCI writers podman uses),
// Load reads.
func TestSkopeoReadsArchives(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("needs skopeo (apt-get install skopeo)")
	}
	ctx := context.Background()
	src := newTestStore(t)
	ti := threeLayers(t, false)
	ti.push(src.reg, "docker.io/library/three", "latest")
	if _, err := src.Pull(ctx, "three", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, format := range []string{FormatDockerArchive, FormatOCIArchive} {
		ours := filepath.Join(dir, "ours-"+format+".tar")
		var buf bytes.Buffer
		if err := src.Save(ctx, []string{"three"}, &buf, SaveOptions{Format: format}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ours, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		srcRef := format + ":" + ours
		if format == FormatOCIArchive {
			srcRef += ":docker.io/library/three:latest"
		}
		for _, out := range []string{"docker-archive:" + filepath.Join(dir, format+"-to-docker.tar") + ":skopeo/three:v1",
			"oci-archive:" + filepath.Join(dir, format+"-to-oci.tar") + ":docker.io/skopeo/three:v1"} {
			cmd := exec.Command(skopeo, "--insecure-policy", "copy", "-q", srcRef, out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("skopeo copy %s %s: %v\n%s", srcRef, out, err, b)
			}
			path := strings.Split(strings.SplitN(out, ":", 2)[1], ":")[0]
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			dst := newTestStore(t)
			loaded, err := dst.Load(ctx, f, LoadOptions{})
			f.Close()
			if err != nil {
				t.Fatalf("load %s: %v", out, err)
			}
			// skopeo rewrites the config when it converts Docker to
			// OCI: compare the layers.
			if len(loaded) != 1 || loaded[0].Name != "skopeo/three:v1" {
				t.Errorf("load %s: %+v", out, loaded)
			}
			checkUnpacked(t, dst, ti)
			os.Remove(path)
		}
	}
}
