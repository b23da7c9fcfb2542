package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/internal/openat2"

	"github.com/corral-dev/corral/archive"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/spec"
	cvolume "github.com/corral-dev/corral/volume"
)

// A container's volumes and bind mounts are resolved at create, as
// dockerd resolves them: --volumes-from first, then the anonymous volumes
// of Config.Volumes (-v /path and the image's VOLUMEs), then -v binds
// (which take the place of either at the same destination), then --mount
// (which may not share a destination with a bind). The result is the
// record's Mounts, which inspect shows and start turns into spec mounts;
// the volumes it names are created (named ones on first use, anonymous
// ones always) and referenced by the container until it is removed.

// mountPlan is what resolveMounts did, for the rest of create to finish
// (copyUp) or undo.
type mountPlan struct {
	// created are the volumes made for this container.
	created []string
	// refs are the volumes the container references.
	refs []string
	// copies are the volumes to fill with the image's content.
	copies []copyJob
	// makeDirs are missing -v bind sources, made once all is checked.
	makeDirs []string
}

type copyJob struct{ name, dest string }

// resolveMounts fills c.Mounts from c's configuration, creating and
// referencing the volumes; on error nothing is left made or referenced.
func (s *Containers) resolveMounts(c *ccontainer.Container) (plan *mountPlan, err error) {
	plan = &mountPlan{}
	defer func() {
		if err != nil {
			s.undoMounts(c.ID, plan)
			plan = nil
		}
	}()
	specs, from, err := s.mountSpecs(c)
	if err != nil {
		return plan, err
	}
	var out []container.MountPoint
	for _, m := range from {
		if m.Type == mount.TypeVolume {
			if err := s.vols.store.Ref(m.Name, c.ID); err != nil {
				return plan, err
			}
			plan.refs = append(plan.refs, m.Name)
		}
		out = append(out, m)
	}
	for _, sp := range specs {
		mp, err := s.resolveMount(c.ID, sp, c.HostConfig.VolumeDriver, plan)
		if err != nil {
			return plan, err
		}
		out = append(out, mp)
	}
	for _, dir := range plan.makeDirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return plan, errdefs.InvalidArgument(fmt.Errorf("invalid mount config: create bind source path %s: %w", dir, err))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	c.Mounts = out
	return plan, nil
}

// mountSpecs reads c's mount requests into the specs to resolve and the
// mount points taken from --volumes-from, one per destination.
func (s *Containers) mountSpecs(c *ccontainer.Container) ([]cvolume.Spec, []container.MountPoint, error) {
	hc := c.HostConfig
	from := map[string]container.MountPoint{}
	for _, raw := range hc.VolumesFrom {
		mps, err := s.volumesFrom(raw)
		if err != nil {
			return nil, nil, err
		}
		for _, mp := range mps {
			from[mp.Destination] = mp
		}
	}
	byDest := map[string]cvolume.Spec{}
	for dest := range c.Config.Volumes {
		sp, err := cvolume.ParseBind(dest)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := from[sp.Destination]; !ok {
			byDest[sp.Destination] = sp
		}
	}
	binds := map[string]bool{}
	for dest := range hc.Tmpfs {
		if d, _, _ := strings.Cut(dest, ":"); d != "" {
			binds[path.Clean(d)] = true
			delete(byDest, path.Clean(d))
			delete(from, path.Clean(d))
		}
	}
	// take puts an explicit mount (-v, then --mount) in place of what is
	// already planned at its destination; two explicit ones clash.
	take := func(sp cvolume.Spec, err error) error {
		if err != nil {
			return err
		}
		if binds[sp.Destination] {
			return duplicateMount(sp.Destination)
		}
		binds[sp.Destination] = true
		byDest[sp.Destination] = sp
		delete(from, sp.Destination)
		return nil
	}
	for _, raw := range hc.Binds {
		if err := take(cvolume.ParseBind(raw)); err != nil {
			return nil, nil, err
		}
	}
	for _, m := range hc.Mounts {
		if err := take(cvolume.ParseMount(m)); err != nil {
			return nil, nil, err
		}
	}
	specs := make([]cvolume.Spec, 0, len(byDest))
	for _, sp := range byDest {
		specs = append(specs, sp)
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Destination < specs[j].Destination })
	froms := make([]container.MountPoint, 0, len(from))
	for _, mp := range from {
		froms = append(froms, mp)
	}
	return specs, froms, nil
}

// duplicateMount refuses two mounts at one destination, in dockerd's
// words.
func duplicateMount(dest string) error {
	//lint:ignore ST1005 dockerd's wording.
	return errdefs.InvalidArgument(fmt.Errorf("Duplicate mount point: %s", dest))
}

// volumesFrom is the volumes and binds of the container raw names
// (CONTAINER[:MODE]): read-only where they are, or all with ro.
func (s *Containers) volumesFrom(raw string) ([]container.MountPoint, error) {
	ref, ro, err := cvolume.ParseVolumesFrom(raw)
	if err != nil {
		return nil, err
	}
	src, err := s.store.Get(ref)
	if err != nil {
		// Not a 404: the docker CLI takes a 404 from create for a
		// missing image and pulls it.
		return nil, errdefs.InvalidArgument(errors.New(err.Error()))
	}
	var out []container.MountPoint
	for _, m := range src.Mounts {
		if m.Type != mount.TypeVolume && m.Type != mount.TypeBind {
			continue
		}
		m.RW = m.RW && !ro
		out = append(out, m)
	}
	return out, nil
}

// resolveMount turns one spec into a mount point, creating the volume it
// names if missing (with volumeDriver, --volume-driver, unless the spec
// names one).
func (s *Containers) resolveMount(id string, sp cvolume.Spec, volumeDriver string, plan *mountPlan) (container.MountPoint, error) {
	mp := container.MountPoint{Type: sp.Type, Destination: sp.Destination, Mode: sp.Mode, RW: !sp.ReadOnly}
	switch sp.Type {
	case mount.TypeBind:
		mp.Source, mp.Propagation = sp.Source, sp.Propagation
		if _, err := os.Stat(sp.Source); errors.Is(err, fs.ErrNotExist) {
			if !sp.CreateSource {
				return mp, errdefs.InvalidArgument(fmt.Errorf("invalid mount config for type \"bind\": bind source path does not exist: %s", sp.Source))
			}
			plan.makeDirs = append(plan.makeDirs, sp.Source)
		}
		return mp, nil
	case mount.TypeTmpfs:
		return mp, nil
	}
	name, labels := sp.Source, sp.Labels
	if name == "" {
		name = cvolume.NewName()
		labels = map[string]string{cvolume.LabelAnonymous: ""}
	}
	driver := sp.Driver
	if driver == "" {
		driver = volumeDriver
	}
	v, created, err := s.vols.store.Acquire(name, cvolume.CreateOptions{Driver: driver, Labels: labels, Options: sp.DriverOptions}, id)
	if errdefs.IsNotFound(err) { // an unknown driver; a 404 would make docker run pull
		return mp, errdefs.InvalidArgument(errors.New(err.Error()))
	}
	if err != nil {
		return mp, err
	}
	if created {
		plan.created = append(plan.created, v.Name)
		s.vols.publish(v.Name, events.ActionCreate)
	}
	plan.refs = append(plan.refs, v.Name)
	if !sp.NoCopy {
		plan.copies = append(plan.copies, copyJob{name: v.Name, dest: sp.Destination})
	}
	mp.Name, mp.Source, mp.Driver = v.Name, s.vols.store.Path(v.Name), v.Driver
	return mp, nil
}

// undoMounts drops what resolveMounts did for container id.
func (s *Containers) undoMounts(id string, plan *mountPlan) {
	for _, name := range plan.refs {
		s.vols.store.Unref(name, id)
	}
	for _, name := range plan.created {
		if err := s.vols.VolumeRemove(s.ctx, name, true); err != nil {
			s.log.Warn("remove a volume made for a failed create", "volume", name, "err", err)
		}
	}
}

// copyUp fills each new volume of the plan that is still empty with what
// the image has at its destination (owners, modes, xattrs, links kept), as
// dockerd does; the paths are resolved inside the rootfs, so a symlink in
// the image cannot make the copy read the host.
func (s *Containers) copyUp(ctx context.Context, c *ccontainer.Container, plan *mountPlan) error {
	if len(plan.copies) == 0 {
		return nil
	}
	rootfs, err := s.mountRootfs(ctx, c)
	if err != nil {
		return err
	}
	defer s.unmountRootfs(c.ID)
	for _, j := range plan.copies {
		dir, err := s.vols.store.Mount(j.name, c.ID)
		if err != nil {
			return err
		}
		err = copyImageContent(ctx, rootfs, j.dest, dir)
		_, uerr := s.vols.store.Unmount(j.name, c.ID)
		if err = errors.Join(err, uerr); err != nil {
			return fmt.Errorf("copy image content into volume %s: %w", j.name, err)
		}
	}
	return nil
}

// copyImageContent copies the directory dest of rootfs into the empty
// directory dir; a volume with content, or a dest that is no directory in
// the image, is left as it is. Every descriptor in rootfs is closed when
// it returns.
func copyImageContent(ctx context.Context, rootfs, dest, dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) > 0 {
		return err
	}
	st, err := statDirInRoot(rootfs, dest)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.Lchown(dir, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := unix.Chmod(dir, st.Mode&0o7777); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := archive.Extract(ctx, dir, "/", pr, archive.ExtractOptions{})
		pr.CloseWithError(err)
		done <- err
	}()
	werr := archive.WritePath(ctx, pw, rootfs, dest+"/.")
	pw.CloseWithError(werr)
	return errors.Join(werr, <-done)
}

// statDirInRoot stats the directory dest of rootfs, resolved inside it
// (openat2 RESOLVE_IN_ROOT: a symlink leads nowhere outside; retried when
// a rename or mount elsewhere raced with the lookup).
func statDirInRoot(rootfs, dest string) (unix.Stat_t, error) {
	var st unix.Stat_t
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return st, fmt.Errorf("open rootfs: %w", err)
	}
	defer unix.Close(root)
	fd, err := openat2.Open(root, strings.TrimPrefix(dest, "/"), &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return st, &fs.PathError{Op: "open", Path: dest, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return st, &fs.PathError{Op: "stat", Path: dest, Err: err}
	}
	return st, nil
}

// specMounts are c's mounts for its spec; volumes are made ready (an
// options volume is mounted by its first running user).
func (s *Containers) specMounts(c *ccontainer.Container) ([]spec.Mount, error) {
	var out []spec.Mount
	for _, m := range c.Mounts {
		sm := spec.Mount{Type: "bind", Source: m.Source, Destination: m.Destination, ReadOnly: !m.RW,
			Propagation: string(m.Propagation)}
		switch m.Type {
		case mount.TypeVolume:
			dir, err := s.vols.store.Mount(m.Name, c.ID)
			if err != nil {
				return nil, err
			}
			sm.Source = dir
			s.vols.publish(m.Name, events.ActionMount, "container", c.ID, "destination", m.Destination,
				"read/write", strconv.FormatBool(m.RW), "propagation", string(m.Propagation))
		case mount.TypeTmpfs:
			sm = spec.Mount{Type: "tmpfs", Destination: m.Destination, ReadOnly: !m.RW, Options: tmpfsOptionsOf(c, m.Destination)}
		}
		if mm := hostMount(c, m.Destination); mm != nil && mm.BindOptions != nil {
			sm.NonRecursive, sm.ReadOnlyNonRecursive = mm.BindOptions.NonRecursive, mm.BindOptions.ReadOnlyNonRecursive
		}
		out = append(out, sm)
	}
	return out, nil
}

// hostMount is the --mount of c at dest, nil if none.
func hostMount(c *ccontainer.Container, dest string) *mount.Mount {
	for i, m := range c.HostConfig.Mounts {
		if sp, err := cvolume.ParseMount(m); err == nil && sp.Destination == dest {
			return &c.HostConfig.Mounts[i]
		}
	}
	return nil
}

// tmpfsOptionsOf are the options of c's --mount type=tmpfs at dest.
func tmpfsOptionsOf(c *ccontainer.Container, dest string) []string {
	if mm := hostMount(c, dest); mm != nil {
		if sp, err := cvolume.ParseMount(*mm); err == nil {
			return sp.TmpfsOptions
		}
	}
	return nil
}

// unmountVolumes says container id no longer runs with its volumes.
func (s *Containers) unmountVolumes(id string) {
	c, err := s.store.Get(id)
	if err != nil {
		return
	}
	for _, m := range c.Mounts {
		if m.Type != mount.TypeVolume {
			continue
		}
		was, err := s.vols.store.Unmount(m.Name, id)
		if err != nil {
			s.log.Warn("unmount volume", "container", id, "volume", m.Name, "err", err)
		}
		if was {
			s.vols.publish(m.Name, events.ActionUnmount, "container", id)
		}
	}
}

// forgetVolumes drops a removed container's references to its volumes
// and, with removeAnonymous (rm -v, --rm), removes its anonymous volumes
// no other container uses.
func (s *Containers) forgetVolumes(c *ccontainer.Container, removeAnonymous bool) {
	for _, m := range c.Mounts {
		if m.Type != mount.TypeVolume {
			continue
		}
		s.vols.store.Unref(m.Name, c.ID)
		if !removeAnonymous {
			continue
		}
		v, err := s.vols.store.Get(m.Name)
		if err != nil || !v.Anonymous() || len(s.vols.store.Users(m.Name)) > 0 {
			continue
		}
		if err := s.vols.VolumeRemove(s.ctx, m.Name, false); err != nil {
			s.log.Warn("remove anonymous volume", "container", c.ID, "volume", m.Name, "err", err)
		}
	}
}

// restoreVolumes references the volumes of every container record and
// tells the store which containers run with them, before the containers
// are restored.
func (s *Containers) restoreVolumes() {
	active := map[string][]string{}
	for _, c := range s.store.All() {
		for _, m := range c.Mounts {
			if m.Type != mount.TypeVolume {
				continue
			}
			if err := s.vols.store.Ref(m.Name, c.ID); err != nil {
				s.log.Warn("container uses a missing volume", "container", c.ID, "volume", m.Name, "err", err)
				continue
			}
			if c.State.Running {
				active[m.Name] = append(active[m.Name], c.ID)
			}
		}
	}
	if err := s.vols.store.Restore(active); err != nil {
		s.log.Warn("restore volume mounts", "err", err)
	}
}

// undoCreate removes container c, made a moment ago, when the last step of
// its create failed with cause; it returns cause.
func (s *Containers) undoCreate(ctx context.Context, c *ccontainer.Container, plan *mountPlan, cause error) error {
	unlock := s.ops.lock(c.ID)
	defer unlock()
	if err := s.remove(context.WithoutCancel(ctx), c.ID); err != nil {
		s.log.Warn("remove a container whose create failed", "container", c.ID, "err", err)
	}
	s.undoMounts(c.ID, plan)
	return cause
}
