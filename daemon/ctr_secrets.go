package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
)

// A container's secrets at start. File secrets are written into a tmpfs
// of the container's own on the host, <exec root>/secrets/<id> (0700,
// nosuid, nodev, noexec), one file per reference with its uid, gid and
// mode, each bind-mounted read-only at its target; the tmpfs is unmounted
// and its directory removed when the container stops, fails to start or
// is removed. Env secrets go only into the process environment of the
// bundle's config.json (also under the exec root), which is removed when
// the container stops. Neither ever reaches the container's record.

// secrets holds the containers' secrets tmpfs mounts.
func (p execPaths) secrets() string { return filepath.Join(p.root, "secrets") }

// secretsDir is where container id's file secrets are while it runs.
func (p execPaths) secretsDir(id string) string { return filepath.Join(p.secrets(), id) }

// addSecrets gives the container's process of sp the secrets c refers to.
// A secret that no longer exists fails the start, naming it.
func (s *Containers) addSecrets(c *ccontainer.Container, sp *specs.Spec) (err error) {
	refs, err := containerSecrets(c.Config.Labels)
	if err != nil {
		return errdefs.InvalidArgument(err)
	}
	if len(refs) == 0 {
		return nil
	}
	if s.secrets == nil {
		return errdefs.InvalidArgument(errors.New("this engine has no secret store"))
	}
	values := make([][]byte, len(refs))
	for i, r := range refs {
		if _, values[i], err = s.secrets.store.Value(r.Name); err != nil {
			return missingSecret(r.Name, err)
		}
	}
	var dir string
	if slices.ContainsFunc(refs, func(r api.SecretReference) bool { return r.Type == api.SecretFile }) {
		if dir, err = s.mountSecrets(c.ID, refs, values); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				s.unmountSecrets(c.ID)
			}
		}()
	}
	for i, r := range refs {
		if r.Type == api.SecretEnv {
			if sp.Process.Env, err = setSecretEnv(sp.Process.Env, r, values[i]); err != nil {
				return err
			}
			continue
		}
		if slices.ContainsFunc(sp.Mounts, func(m specs.Mount) bool { return m.Destination == r.Target }) {
			return errdefs.InvalidArgument(fmt.Errorf("secret %s: target %s is already a mount point", r.Name, r.Target))
		}
		sp.Mounts = append(sp.Mounts, specs.Mount{Destination: r.Target, Type: "bind",
			Source: filepath.Join(dir, strconv.Itoa(i)), Options: []string{"bind", "ro", "nosuid", "nodev", "noexec", "rprivate"}})
	}
	return nil
}

// setSecretEnv sets the variable r names to value in env.
func setSecretEnv(env []string, r api.SecretReference, value []byte) ([]string, error) {
	if bytes.IndexByte(value, 0) >= 0 {
		return nil, errdefs.InvalidArgument(fmt.Errorf("secret %s: a value with a NUL byte cannot be an environment variable", r.Name))
	}
	kv := r.Target + "=" + string(value)
	if i := slices.IndexFunc(env, func(e string) bool { return strings.HasPrefix(e, r.Target+"=") }); i >= 0 {
		env[i] = kv
		return env, nil
	}
	return append(env, kv), nil
}

// mountSecrets mounts container id's secrets tmpfs and writes the file
// secrets into it, named by their index in refs; it answers the directory.
func (s *Containers) mountSecrets(id string, refs []api.SecretReference, values [][]byte) (string, error) {
	s.unmountSecrets(id) // what a crashed daemon left
	dir := s.paths.secretsDir(id)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", fmt.Errorf("create secrets directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("create secrets directory: %w", err)
	}
	size := 64 << 10
	for _, v := range values {
		size += len(v) + 4096
	}
	opts := fmt.Sprintf("mode=0700,size=%d", size)
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		_ = os.Remove(dir)
		return "", fmt.Errorf("mount secrets tmpfs: %w", err)
	}
	for i, r := range refs {
		if r.Type != api.SecretFile {
			continue
		}
		if err := writeSecretFile(filepath.Join(dir, strconv.Itoa(i)), values[i], r); err != nil {
			s.unmountSecrets(id)
			return "", err
		}
	}
	return dir, nil
}

// writeSecretFile writes one file secret with its owner and mode.
func writeSecretFile(path string, value []byte, r api.SecretReference) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("write secret %s: %w", r.Name, err)
	}
	_, err = f.Write(value)
	if err == nil {
		err = f.Chown(int(r.UID), int(r.GID))
	}
	if err == nil {
		err = f.Chmod(r.FileMode())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write secret %s: %w", r.Name, err)
	}
	return nil
}

// unmountSecrets unmounts container id's secrets tmpfs, if mounted, and
// removes its directory.
func (s *Containers) unmountSecrets(id string) {
	dir := s.paths.secretsDir(id)
	if mounted(dir) {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			s.log.Warn("unmount secrets", "container", id, "err", err)
			return
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		s.log.Warn("remove secrets directory", "container", id, "err", err)
	}
}

// releaseSecrets undoes what the start of container id did with its
// secrets: the tmpfs goes, and the bundle's config.json, which holds env
// secrets, is removed (nothing reads it once the container has stopped;
// the next start writes it again).
func (s *Containers) releaseSecrets(id string) {
	s.unmountSecrets(id)
	c, err := s.store.Get(id)
	if err != nil {
		return
	}
	refs, _ := containerSecrets(c.Config.Labels)
	if slices.ContainsFunc(refs, func(r api.SecretReference) bool { return r.Type == api.SecretEnv }) {
		if err := os.Remove(filepath.Join(c.BundlePath, "config.json")); err != nil && !os.IsNotExist(err) {
			s.log.Warn("remove bundle config", "container", id, "err", err)
		}
	}
}
