package engine_test

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"
	"strings"
	"testing"
)

// imageArchive is an image read from a docker-archive tarball (what
// `docker save` and `podman save --format docker-archive` write): its
// layers flattened into one tree, and its config.
type imageArchive struct {
	tree   map[string]fileEntry
	config imageConfig
}

// readImageArchive reads the single image of a docker-archive tarball.
func readImageArchive(t *testing.T, file string) imageArchive {
	t.Helper()
	members := readTarMembers(t, file)
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(members["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("%s: manifest.json: %v (%d images)", file, err, len(manifest))
	}
	var cfg struct{ Config imageConfig }
	if err := json.Unmarshal(members[manifest[0].Config], &cfg); err != nil {
		t.Fatalf("%s: config %s: %v", file, manifest[0].Config, err)
	}
	tree := map[string]fileEntry{}
	for _, l := range manifest[0].Layers {
		data, ok := members[l]
		if !ok {
			t.Fatalf("%s: no layer %s", file, l)
		}
		if err := applyLayer(tree, data); err != nil {
			t.Fatalf("%s: layer %s: %v", file, l, err)
		}
	}
	return imageArchive{tree: tree, config: cfg.Config}
}

// readTarMembers reads every regular file of a tarball, following the
// symlinks podman's archive uses for layer.tar.
func readTarMembers(t *testing.T, file string) map[string][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	members, links := map[string][]byte{}, map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		name := path.Clean(h.Name)
		switch h.Typeflag {
		case tar.TypeReg:
			if members[name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		case tar.TypeSymlink:
			links[name] = path.Join(path.Dir(name), h.Linkname)
		}
	}
	for name, target := range links {
		members[name] = members[target]
	}
	return members
}

// applyLayer applies one uncompressed layer tar to tree, with the OCI
// whiteouts: .wh.NAME removes NAME, .wh..wh..opq empties its directory.
func applyLayer(tree map[string]fileEntry, data []byte) error {
	tr := tar.NewReader(strings.NewReader(string(data)))
	hardlinks := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		dir, base := path.Split(name)
		switch {
		case name == "":
			continue
		case base == ".wh..wh..opq":
			removeTree(tree, strings.TrimSuffix(dir, "/"), false)
			continue
		case strings.HasPrefix(base, ".wh."):
			removeTree(tree, dir+strings.TrimPrefix(base, ".wh."), true)
			continue
		}
		if old, ok := tree[name]; ok && (old.Type != tar.TypeDir || h.Typeflag != tar.TypeDir) {
			removeTree(tree, name, true)
		}
		e, err := entryOf(h, tr)
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeLink {
			hardlinks[name] = strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
			continue
		}
		tree[name] = e
		addParents(tree, name)
	}
	// A hard link is compared as the file it names: the builders may
	// or may not keep the link.
	for name, target := range hardlinks {
		tree[name] = tree[target]
	}
	return nil
}

// addParents adds the parents of name a layer does not list, as
// extraction makes them: directories 0755 owned by root.
func addParents(tree map[string]fileEntry, name string) {
	for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
		if _, ok := tree[d]; ok {
			return
		}
		tree[d] = fileEntry{Type: tar.TypeDir, Mode: 0o755}
	}
}

// entryOf reads a tar header and its contents into a fileEntry.
func entryOf(h *tar.Header, r io.Reader) (fileEntry, error) {
	e := fileEntry{Type: h.Typeflag, Mode: h.Mode & 0o7777, UID: h.Uid, GID: h.Gid}
	switch h.Typeflag {
	case tar.TypeReg:
		sum := sha256.New()
		n, err := io.Copy(sum, r)
		if err != nil {
			return e, err
		}
		e.Size, e.Digest = n, hex.EncodeToString(sum.Sum(nil))
	case tar.TypeSymlink:
		e.Link = h.Linkname
	}
	return e, nil
}

// removeTree removes name's children and, if self, name itself.
func removeTree(tree map[string]fileEntry, name string, self bool) {
	if self {
		delete(tree, name)
	}
	for p := range tree {
		if strings.HasPrefix(p, name+"/") {
			delete(tree, p)
		}
	}
}
