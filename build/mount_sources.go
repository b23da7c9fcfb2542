package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/moby/api/types/mount"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/errdefs"
)

// cacheLocks serialise RUN steps on a locked or private cache mount, by
// cache dir.
type cacheLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (c *cacheLocks) lock(dir string) func() {
	c.mu.Lock()
	if c.locks == nil {
		c.locks = map[string]*sync.Mutex{}
	}
	l := c.locks[dir]
	if l == nil {
		l = &sync.Mutex{}
		c.locks[dir] = l
	}
	c.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// CacheMountDir is the directory under root that holds the cache mount id.
func CacheMountDir(root, id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(root, hex.EncodeToString(sum[:16]))
}

// cacheMount is type=cache: a directory of the daemon's, kept across
// builds, made on first use (mode, uid, gid; seeded from from/source).
// Sharing locked and private both take the cache for the step alone.
func (j *job) cacheMount(ctx context.Context, rm *runMounts, m *instructions.Mount) error {
	root := j.b.opts.CacheMounts
	if root == "" {
		return errors.New("the engine keeps no cache mounts")
	}
	dir := CacheMountDir(root, m.CacheID)
	if m.CacheSharing == instructions.MountSharingLocked || m.CacheSharing == instructions.MountSharingPrivate {
		rm.release = append(rm.release, j.b.locks.lock(dir))
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := j.makeCacheDir(ctx, dir, m); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("cache mount %s: %w", m.CacheID, err)
	}
	rm.add(mount.Mount{Type: mount.TypeBind, Source: dir, Target: m.Target, ReadOnly: m.ReadOnly},
		fmt.Sprintf("cache %s id=%q ro=%t", m.Target, m.CacheID, m.ReadOnly))
	return nil
}

// makeCacheDir creates a cache mount's dir atomically: filled in a temp
// dir, then renamed.
func (j *job) makeCacheDir(ctx context.Context, dir string, m *instructions.Mount) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("cache mounts dir: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".new-")
	if err != nil {
		return fmt.Errorf("cache mount %s: %w", m.CacheID, err)
	}
	defer os.RemoveAll(tmp)
	if m.From != "" {
		if err := j.seedCache(ctx, tmp, m); err != nil {
			return err
		}
	}
	mode, uid, gid := fileMode(m, 0o755)
	err = os.Chmod(tmp, os.FileMode(mode)&os.ModePerm)
	if err == nil {
		err = os.Lchown(tmp, uid, gid)
	}
	if err != nil {
		return fmt.Errorf("cache mount %s: %w", m.CacheID, err)
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) && !isNotEmpty(err) {
		return fmt.Errorf("cache mount %s: %w", m.CacheID, err)
	}
	if err := os.WriteFile(dir+".id", []byte(m.CacheID), 0o600); err != nil {
		return fmt.Errorf("cache mount %s: %w", m.CacheID, err)
	}
	return nil
}

func isNotEmpty(err error) bool { return errors.Is(err, unix.ENOTEMPTY) }

// seedCache copies source of the stage or image from into dir: the
// content a new cache starts with.
func (j *job) seedCache(ctx context.Context, dir string, m *instructions.Mount) error {
	src, release, err := j.copySource(ctx, m.From)
	if err != nil {
		return err
	}
	defer release()
	hp, err := securejoin.SecureJoin(src.dir, m.Source)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.WriteDir(ctx, hp, pw)) }()
	defer pr.Close()
	if _, err := archive.Apply(ctx, dir, pr, archive.ApplyOptions{Whiteouts: archive.RemoveWhiteouts}); err != nil {
		return fmt.Errorf("seed cache from %s:%s: %w", m.From, m.Source, err)
	}
	return nil
}

// secretMount is type=secret: the value the client gave for id, written
// to a file on the build's tmpfs (never the disk), bound read-only at the
// target. Its value is in no key; a missing one is an error only if
// required.
func (j *job) secretMount(rm *runMounts, m *instructions.Mount) error {
	val, ok := j.opts.Secrets[m.CacheID]
	if !ok {
		if m.Required {
			return errdefs.InvalidArgument(fmt.Errorf("secret %s is required but was not given (corral build --secret id=%s,src=FILE)", m.CacheID, m.CacheID))
		}
		return nil
	}
	dir, err := j.secretDir()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "s-")
	if err != nil {
		return fmt.Errorf("secret %s: %w", m.CacheID, err)
	}
	mode, uid, gid := fileMode(m, 0o400)
	_, err = f.Write(val)
	if err == nil {
		err = f.Chmod(os.FileMode(mode) & os.ModePerm)
	}
	if err == nil {
		err = f.Chown(uid, gid)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	name := f.Name()
	rm.release = append(rm.release, func() { _ = os.Remove(name) })
	if err != nil {
		return fmt.Errorf("secret %s: %w", m.CacheID, err)
	}
	rm.add(mount.Mount{Type: mount.TypeBind, Source: name, Target: m.Target, ReadOnly: true},
		fmt.Sprintf("secret %s id=%q", m.Target, m.CacheID))
	return nil
}

// secretDir is the build's tmpfs for secret files, mounted on first use
// and unmounted when the build ends (job.close).
func (j *job) secretDir() (string, error) {
	j.sh.mu.Lock()
	defer j.sh.mu.Unlock()
	if j.sh.secrets != "" {
		return j.sh.secrets, nil
	}
	dir, err := os.MkdirTemp(j.b.opts.TempDir, "secrets-")
	if err != nil {
		return "", fmt.Errorf("secrets dir: %w", err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700"); err != nil {
		os.Remove(dir)
		return "", fmt.Errorf("secrets tmpfs: %w", err)
	}
	j.sh.secrets = dir
	return dir, nil
}

// closeSecrets unmounts the secrets tmpfs, its files gone with it.
func (j *job) closeSecrets() {
	j.sh.mu.Lock()
	defer j.sh.mu.Unlock()
	if j.sh.secrets == "" {
		return
	}
	_ = unix.Unmount(j.sh.secrets, unix.MNT_DETACH)
	_ = os.Remove(j.sh.secrets)
	j.sh.secrets = ""
}

// bindMount is type=bind: source of the context, a stage or an image,
// read-only unless rw, where writes go to a throwaway overlay upper dir.
func (j *job) bindMount(ctx context.Context, rm *runMounts, m *instructions.Mount) error {
	src, release, err := j.copySource(ctx, m.From)
	if err != nil {
		return err
	}
	rm.release = append(rm.release, release)
	rel, err := src.clean(m.Source)
	if err != nil {
		return err
	}
	if rel == "" {
		rel = "."
	}
	if src.excluded(rel) {
		return src.missing(m.Source)
	}
	hp, err := securejoin.SecureJoin(src.dir, rel)
	if err != nil {
		return err
	}
	fi, err := os.Stat(hp)
	if err != nil {
		return src.missing(m.Source)
	}
	key, err := j.bindKey(ctx, src, rel, m)
	if err != nil {
		return err
	}
	if !m.ReadOnly {
		if hp, err = j.throwaway(rm, hp, fi); err != nil {
			return err
		}
	}
	rm.add(mount.Mount{Type: mount.TypeBind, Source: hp, Target: m.Target, ReadOnly: m.ReadOnly}, key)
	return nil
}

// bindKey is a bind mount's part of the cache key: the content digest of
// the context files it shows, or the image of the stage or image.
func (j *job) bindKey(ctx context.Context, src *source, rel string, m *instructions.Mount) (string, error) {
	what := ""
	if m.From == "" {
		spec := &copySpec{src: src, srcs: []string{rel}, uid: -1, gid: -1}
		sum, err := spec.sourceDigest()
		if err != nil {
			return "", err
		}
		what = sum
	} else if k := j.df.stageRef(m.From); k >= 0 {
		what = j.result(k).id
	} else {
		img, err := j.b.opts.Images.Image(ctx, m.From)
		if err != nil {
			return "", err
		}
		what = img.ID
	}
	return fmt.Sprintf("bind %s from=%q src=%q %s ro=%t", m.Target, m.From, rel, what, m.ReadOnly), nil
}

// throwaway is a writable copy of hp whose writes are discarded: an
// overlay with hp below (a directory) or a copy (a file).
func (j *job) throwaway(rm *runMounts, hp string, fi os.FileInfo) (string, error) {
	tmp, err := os.MkdirTemp(j.b.opts.TempDir, "rw-")
	if err != nil {
		return "", err
	}
	rm.release = append(rm.release, func() { _ = os.RemoveAll(tmp) })
	if !fi.IsDir() {
		return copyFile(hp, filepath.Join(tmp, "f"), fi.Mode())
	}
	dirs := []string{filepath.Join(tmp, "u"), filepath.Join(tmp, "w"), filepath.Join(tmp, "m")}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", hp, dirs[0], dirs[1])
	if err := unix.Mount("overlay", dirs[2], "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("writable bind mount: %w", err)
	}
	rm.release = append(rm.release, func() { _ = unix.Unmount(dirs[2], unix.MNT_DETACH) })
	return dirs[2], nil
}

func copyFile(src, dst string, mode os.FileMode) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode&os.ModePerm)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return dst, err
}

func inode(fi os.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*unix.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Ino, true
}
