package build

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/moby/api/types/mount"

	"github.com/corral-dev/corral/errdefs"
)

// runMounts are the mounts of one RUN step, ready for the Runner: what to
// mount, the text they add to the cache key (never a secret's value), and
// what to undo once the step is over.
type runMounts struct {
	mounts  []mount.Mount
	key     []string
	release []func()
}

func (m *runMounts) add(mt mount.Mount, key string) {
	m.mounts = append(m.mounts, mt)
	m.key = append(m.key, key)
}

func (m *runMounts) done() {
	for i := len(m.release) - 1; i >= 0; i-- {
		m.release[i]()
	}
	m.release = nil
}

// parseMounts expands and checks RUN --mount's options on s; errors name
// the option at fault.
func (j *job) parseMounts(s *state, c *instructions.RunCommand) ([]*instructions.Mount, error) {
	if err := c.Expand(j.expander(s)); err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("RUN --mount: %w", err))
	}
	ms := instructions.GetMounts(c)
	seen := map[string]bool{}
	for _, m := range ms {
		if err := checkMount(m, s.cfg.WorkingDir); err != nil {
			err = fmt.Errorf("RUN --mount=type=%s: %w", m.Type, err)
			if !errors.Is(err, errdefs.ErrNotImplemented) {
				err = errdefs.InvalidArgument(err)
			}
			return nil, err
		}
		if seen[m.Target] {
			return nil, errdefs.InvalidArgument(fmt.Errorf("RUN --mount: target %s is mounted twice", m.Target))
		}
		seen[m.Target] = true
	}
	return ms, nil
}

// checkMount validates one mount and settles its defaults: the target
// made absolute (relative to workdir), a secret's id and target, a
// cache's id.
func checkMount(m *instructions.Mount, workdir string) error {
	switch m.Type {
	case instructions.MountTypeSSH:
		return errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("ssh mounts are not supported (the classic protocol has no ssh agent channel)"))
	case instructions.MountTypeSecret:
		if m.CacheID == "" {
			m.CacheID = path.Base(m.Source + m.Target)
			if m.Source != "" {
				m.CacheID = m.Source
			}
		}
		if m.Target == "" {
			m.Target = "/run/secrets/" + m.CacheID
		}
	}
	if m.Env != nil {
		return errors.New("option env is not supported")
	}
	if m.Target == "" {
		return errors.New("option target is required")
	}
	if !path.IsAbs(m.Target) {
		m.Target = path.Join("/", workdir, m.Target)
	}
	m.Target = path.Clean(m.Target)
	if m.Target == "/" {
		return errors.New("option target: cannot mount over /")
	}
	if m.Type == instructions.MountTypeCache && m.CacheID == "" {
		m.CacheID = m.Target
	}
	if m.Type == instructions.MountTypeTmpfs && (m.From != "" || m.Source != "") {
		return errors.New("options from and source are not allowed for tmpfs mounts")
	}
	if m.Mode != nil && *m.Mode > 0o7777 {
		return fmt.Errorf("option mode %o: not a file mode", *m.Mode)
	}
	return nil
}

// prepareMounts makes the mounts of a RUN on s ready: cache dirs, secret
// files, bind sources, tmpfs. The caller runs done() after the step.
func (j *job) prepareMounts(ctx context.Context, s *state, ms []*instructions.Mount) (*runMounts, error) {
	rm := &runMounts{}
	for _, m := range ms {
		var err error
		switch m.Type {
		case instructions.MountTypeCache:
			err = j.cacheMount(ctx, rm, m)
		case instructions.MountTypeSecret:
			err = j.secretMount(rm, m)
		case instructions.MountTypeBind:
			err = j.bindMount(ctx, rm, m)
		case instructions.MountTypeTmpfs:
			rm.add(mount.Mount{Type: mount.TypeTmpfs, Target: m.Target,
				TmpfsOptions: &mount.TmpfsOptions{SizeBytes: m.SizeLimit}},
				fmt.Sprintf("tmpfs %s size=%d", m.Target, m.SizeLimit))
		}
		if err != nil {
			rm.done()
			return nil, fmt.Errorf("RUN --mount=type=%s,target=%s: %w", m.Type, m.Target, err)
		}
	}
	sort.SliceStable(rm.mounts, func(a, b int) bool {
		return strings.Count(rm.mounts[a].Target, "/") < strings.Count(rm.mounts[b].Target, "/")
	})
	return rm, nil
}

// fileMode is the mode, uid and gid a mount's options ask for, with def
// the default mode.
func fileMode(m *instructions.Mount, def uint64) (mode uint64, uid, gid int) {
	mode = def
	if m.Mode != nil {
		mode = *m.Mode
	}
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	return mode, uid, gid
}
