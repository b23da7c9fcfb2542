package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
	"github.com/corral-dev/corral/registry"
	"github.com/corral-dev/corral/snapshot"
)

// memContent is an in-memory content.Store.
type memContent struct {
	mu    sync.Mutex
	blobs map[digest.Digest][]byte
}

func newMemContent() *memContent { return &memContent{blobs: map[digest.Digest][]byte{}} }

func (m *memContent) Info(ctx context.Context, d digest.Digest) (content.Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[d]
	if !ok {
		return content.Info{}, errdefs.NotFound(fmt.Errorf("blob %s", d))
	}
	return content.Info{Digest: d, Size: int64(len(b))}, nil
}

type memReader struct {
	*bytes.Reader
}

func (memReader) Close() error { return nil }

func (m *memContent) ReaderAt(ctx context.Context, d digest.Digest) (content.ReaderAt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[d]
	if !ok {
		return nil, errdefs.NotFound(fmt.Errorf("blob %s", d))
	}
	return memReader{bytes.NewReader(b)}, nil
}

type memWriter struct {
	m    *memContent
	buf  bytes.Buffer
	opts content.WriterOpts
}

func (w *memWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }
func (w *memWriter) Close() error                { return nil }
func (w *memWriter) Digest() digest.Digest       { return digest.FromBytes(w.buf.Bytes()) }
func (w *memWriter) Offset() int64               { return int64(w.buf.Len()) }
func (w *memWriter) Commit(ctx context.Context, size int64, expected digest.Digest) error {
	got := w.Digest()
	if size != 0 && size != int64(w.buf.Len()) {
		return errdefs.InvalidArgument(fmt.Errorf("size mismatch: expected %d, got %d", size, w.buf.Len()))
	}
	if expected != "" && expected != got {
		return errdefs.InvalidArgument(fmt.Errorf("digest mismatch: expected %s, got %s", expected, got))
	}
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if _, ok := w.m.blobs[got]; ok {
		return errdefs.AlreadyExists(fmt.Errorf("blob %s", got))
	}
	w.m.blobs[got] = bytes.Clone(w.buf.Bytes())
	return nil
}

func (m *memContent) Writer(ctx context.Context, opts content.WriterOpts) (content.Writer, error) {
	return &memWriter{m: m, opts: opts}, nil
}

func (m *memContent) Delete(ctx context.Context, d digest.Digest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blobs[d]; !ok {
		return errdefs.NotFound(fmt.Errorf("blob %s", d))
	}
	delete(m.blobs, d)
	return nil
}

func (m *memContent) Walk(ctx context.Context, fn func(content.Info) error) error {
	m.mu.Lock()
	var infos []content.Info
	for d, b := range m.blobs {
		infos = append(infos, content.Info{Digest: d, Size: int64(len(b))})
	}
	m.mu.Unlock()
	for _, i := range infos {
		if err := fn(i); err != nil {
			return err
		}
	}
	return nil
}

func (m *memContent) has(d digest.Digest) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.blobs[d]
	return ok
}

func (m *memContent) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.blobs)
}

// dirSnapshotter is a snapshotter on plain directories that hands out
// the mounts overlay would, without mounting anything.
type dirSnapshotter struct {
	root string
	mu   sync.Mutex
	next int
	snap map[string]*dirSnap
}

type dirSnap struct {
	info snapshot.Info
	dir  string
}

func newDirSnapshotter(root string) *dirSnapshotter {
	return &dirSnapshotter{root: root, snap: map[string]*dirSnap{}}
}

func (d *dirSnapshotter) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.snap[key]
	if !ok {
		return snapshot.Info{}, errdefs.NotFound(fmt.Errorf("snapshot %s", key))
	}
	return s.info, nil
}

func (d *dirSnapshotter) create(key, parent string, kind snapshot.Kind, opts []snapshot.Opt) ([]snapshot.Mount, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.snap[key]; ok {
		return nil, errdefs.AlreadyExists(fmt.Errorf("snapshot %s", key))
	}
	if parent != "" {
		p, ok := d.snap[parent]
		if !ok || p.info.Kind != snapshot.KindCommitted {
			return nil, errdefs.NotFound(fmt.Errorf("parent %s", parent))
		}
	}
	d.next++
	dir := filepath.Join(d.root, fmt.Sprint(d.next))
	if err := os.MkdirAll(filepath.Join(dir, "fs"), 0o755); err != nil {
		return nil, err
	}
	info := snapshot.Info{Key: key, Parent: parent, Kind: kind, Created: time.Now()}
	for _, o := range opts {
		o(&info)
	}
	d.snap[key] = &dirSnap{info: info, dir: dir}
	return d.mountsLocked(key), nil
}

func (d *dirSnapshotter) mountsLocked(key string) []snapshot.Mount {
	s := d.snap[key]
	if s.info.Parent == "" {
		opt := "rw"
		if s.info.Kind == snapshot.KindView {
			opt = "ro"
		}
		return []snapshot.Mount{{Type: "bind", Source: filepath.Join(s.dir, "fs"), Options: []string{"rbind", opt}}}
	}
	var lowers []string
	for p := s.info.Parent; p != ""; p = d.snap[p].info.Parent {
		lowers = append(lowers, filepath.Join(d.snap[p].dir, "fs"))
	}
	return []snapshot.Mount{{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + strings.Join(lowers, ":"), "upperdir=" + filepath.Join(s.dir, "fs"), "workdir=" + filepath.Join(s.dir, "work")}}}
}

func (d *dirSnapshotter) Prepare(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]snapshot.Mount, error) {
	return d.create(key, parent, snapshot.KindActive, opts)
}

func (d *dirSnapshotter) View(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]snapshot.Mount, error) {
	return d.create(key, parent, snapshot.KindView, opts)
}

func (d *dirSnapshotter) Mounts(ctx context.Context, key string) ([]snapshot.Mount, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.snap[key]; !ok {
		return nil, errdefs.NotFound(fmt.Errorf("snapshot %s", key))
	}
	return d.mountsLocked(key), nil
}

func (d *dirSnapshotter) Commit(ctx context.Context, name, key string, opts ...snapshot.Opt) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.snap[key]
	if !ok || s.info.Kind != snapshot.KindActive {
		return errdefs.NotFound(fmt.Errorf("active snapshot %s", key))
	}
	if _, ok := d.snap[name]; ok {
		return errdefs.AlreadyExists(fmt.Errorf("snapshot %s", name))
	}
	delete(d.snap, key)
	s.info.Key, s.info.Kind = name, snapshot.KindCommitted
	d.snap[name] = s
	return nil
}

func (d *dirSnapshotter) Remove(ctx context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.snap[key]
	if !ok {
		return errdefs.NotFound(fmt.Errorf("snapshot %s", key))
	}
	for _, o := range d.snap {
		if o.info.Parent == key {
			return errdefs.Conflict(fmt.Errorf("snapshot %s has children", key))
		}
	}
	delete(d.snap, key)
	return os.RemoveAll(s.dir)
}

func (d *dirSnapshotter) Walk(ctx context.Context, fn func(snapshot.Info) error) error {
	d.mu.Lock()
	var infos []snapshot.Info
	for _, s := range d.snap {
		infos = append(infos, s.info)
	}
	d.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, i := range infos {
		if err := fn(i); err != nil {
			return err
		}
	}
	return nil
}

func (d *dirSnapshotter) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	d.mu.Lock()
	s, ok := d.snap[key]
	d.mu.Unlock()
	if !ok {
		return snapshot.Usage{}, errdefs.NotFound(fmt.Errorf("snapshot %s", key))
	}
	var u snapshot.Usage
	err := filepath.Walk(filepath.Join(s.dir, "fs"), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		u.Inodes++
		if fi.Mode().IsRegular() {
			u.Size += fi.Size()
		}
		return nil
	})
	return u, err
}

// dir returns the directory of snapshot key.
func (d *dirSnapshotter) dir(key string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.snap[key]; ok {
		return filepath.Join(s.dir, "fs")
	}
	return ""
}

func (d *dirSnapshotter) keys() []string {
	var keys []string
	_ = d.Walk(context.Background(), func(i snapshot.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	return keys
}

// memRegistry is an in-memory registry with fault injection.
type memRegistry struct {
	mu        sync.Mutex
	manifests map[string]memManifest // "repo@digest" and "repo:tag"
	blobs     map[string][]byte      // "repo@digest"
	// corrupt maps a blob digest to the bytes served instead.
	corrupt map[digest.Digest][]byte
	// block, when set, makes FetchBlob of that digest wait until ctx ends.
	block   digest.Digest
	fetches map[digest.Digest]int
}

type memManifest struct {
	mediaType string
	body      []byte
}

func newMemRegistry() *memRegistry {
	return &memRegistry{manifests: map[string]memManifest{}, blobs: map[string][]byte{},
		corrupt: map[digest.Digest][]byte{}, fetches: map[digest.Digest]int{}}
}

func (r *memRegistry) putManifest(repo, tag, mediaType string, body []byte) digest.Digest {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := digest.FromBytes(body)
	r.manifests[repo+"@"+d.String()] = memManifest{mediaType, body}
	if tag != "" {
		r.manifests[repo+":"+tag] = memManifest{mediaType, body}
	}
	return d
}

func (r *memRegistry) putBlob(repo string, data []byte) digest.Digest {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := digest.FromBytes(data)
	r.blobs[repo+"@"+d.String()] = data
	return d
}

func (r *memRegistry) manifestKey(ref reference.Named, tagOrDigest string) string {
	if strings.HasPrefix(tagOrDigest, "sha256:") {
		return ref.Name() + "@" + tagOrDigest
	}
	return ref.Name() + ":" + tagOrDigest
}

func (r *memRegistry) Resolve(ctx context.Context, ref reference.Named) (ocispec.Descriptor, error) {
	_, desc, err := r.FetchManifest(ctx, ref, refPart(ref))
	return desc, err
}

func (r *memRegistry) FetchManifest(ctx context.Context, ref reference.Named, tagOrDigest string) ([]byte, ocispec.Descriptor, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.manifests[r.manifestKey(ref, tagOrDigest)]
	if !ok {
		return nil, ocispec.Descriptor{}, errdefs.NotFound(fmt.Errorf("manifest unknown: %s %s", ref.Name(), tagOrDigest))
	}
	return m.body, ocispec.Descriptor{MediaType: m.mediaType, Digest: digest.FromBytes(m.body), Size: int64(len(m.body))}, nil
}

func (r *memRegistry) FetchBlob(ctx context.Context, repo reference.Named, desc ocispec.Descriptor) (io.ReadCloser, error) {
	r.mu.Lock()
	data, ok := r.blobs[repo.Name()+"@"+desc.Digest.String()]
	if c, bad := r.corrupt[desc.Digest]; bad {
		data = c
	}
	r.fetches[desc.Digest]++
	block := r.block == desc.Digest
	r.mu.Unlock()
	if !ok {
		return nil, errdefs.NotFound(fmt.Errorf("blob unknown: %s", desc.Digest))
	}
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (r *memRegistry) BlobExists(ctx context.Context, repo reference.Named, d digest.Digest) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.blobs[repo.Name()+"@"+d.String()]
	return ok, nil
}

func (r *memRegistry) PushBlob(ctx context.Context, repo reference.Named, desc ocispec.Descriptor,
	open func() (io.ReadCloser, error), mountFrom []reference.Named) (registry.PushResult, error) {
	if ok, _ := r.BlobExists(ctx, repo, desc.Digest); ok {
		return registry.PushResult{Status: registry.Exists}, nil
	}
	for _, from := range mountFrom {
		r.mu.Lock()
		data, ok := r.blobs[from.Name()+"@"+desc.Digest.String()]
		if ok {
			r.blobs[repo.Name()+"@"+desc.Digest.String()] = data
		}
		r.mu.Unlock()
		if ok {
			return registry.PushResult{Status: registry.Mounted, MountedFrom: from}, nil
		}
	}
	rc, err := open()
	if err != nil {
		return registry.PushResult{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return registry.PushResult{}, err
	}
	if digest.FromBytes(data) != desc.Digest || int64(len(data)) != desc.Size {
		return registry.PushResult{}, errors.New("pushed blob does not match its descriptor")
	}
	r.putBlob(repo.Name(), data)
	return registry.PushResult{Status: registry.Uploaded}, nil
}

func (r *memRegistry) PushManifest(ctx context.Context, ref reference.Named, mediaType string, body []byte) (digest.Digest, error) {
	tag := ""
	if t, ok := ref.(reference.Tagged); ok {
		tag = t.Tag()
	}
	return r.putManifest(ref.Name(), tag, mediaType, body), nil
}
