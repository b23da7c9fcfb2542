package image

import (
	"archive/tar"
	"io"
	"path"
	"sort"
	"strings"
)

// layerScan is what unpacking a layer ahead of its parents needs to know
// about the layer's tar: the directories it creates without listing them
// (which take their attributes from the layers below), and whether it
// hardlinks to files it does not hold (which are copied from below).
type layerScan struct {
	listed       map[string]bool // directories the tar lists
	needed       map[string]bool // directories entries need to exist
	seen         map[string]bool // every entry so far
	foreignLinks bool            // a hardlink to a file not earlier in the tar
}

func newLayerScan() *layerScan {
	return &layerScan{listed: map[string]bool{}, needed: map[string]bool{}, seen: map[string]bool{}}
}

// scanTar reads the tar r to its end, recording what layerScan says. A
// malformed tar ends the scan quietly (Apply reports it). Apply does the
// same as it goes with ApplyOptions.Observe set to add.
func scanTar(r io.Reader) *layerScan {
	sc := newLayerScan()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return sc
		}
		sc.add(hdr)
	}
}

func scanName(name string) string { return path.Clean("/" + name)[1:] }

func (sc *layerScan) add(hdr *tar.Header) {
	name := scanName(hdr.Name)
	if name == "" {
		return
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	sc.need(dir)
	if strings.HasPrefix(base, ".wh.") {
		return // a whiteout or opaque marker needs only its directory
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		sc.listed[name] = true
	case tar.TypeLink:
		if !sc.seen[scanName(hdr.Linkname)] {
			sc.foreignLinks = true
		}
	}
	sc.seen[name] = true
}

// need records that dir and its parents must exist.
func (sc *layerScan) need(dir string) {
	for dir != "" && dir != "." && !sc.needed[dir] {
		sc.needed[dir] = true
		dir = path.Dir(dir)
	}
}

// implicit lists the directories the layer needs but does not list,
// parents before children.
func (sc *layerScan) implicit() []string {
	var out []string
	for d := range sc.needed {
		if !sc.listed[d] {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		di, dj := strings.Count(out[i], "/"), strings.Count(out[j], "/")
		if di != dj {
			return di < dj
		}
		return out[i] < out[j]
	})
	return out
}
