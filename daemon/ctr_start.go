package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/monitor"
	"github.com/corral-dev/corral/snapshot"
	"github.com/corral-dev/corral/spec"
)

// ContainerStart is POST /containers/{id}/start.
func (s *Containers) ContainerStart(ctx context.Context, name string) error {
	c, unlock, err := s.lock(name)
	if err != nil {
		return err
	}
	defer unlock()
	if err := c.State.Check(ccontainer.OpStart, c.ID); err != nil {
		return err
	}
	if c, err = s.update(c.ID, func(c *ccontainer.Container) error { c.UserStarted(); return nil }); err != nil {
		return err
	}
	return s.start(ctx, c)
}

// start runs a stopped container under a new monitor; the caller holds its
// op lock. A failure is recorded in the container's state (exit code 126,
// 127 or 128, as dockerd sets them) and leaves nothing mounted or running.
func (s *Containers) start(ctx context.Context, c *ccontainer.Container) (err error) {
	ctx = context.WithoutCancel(ctx)
	// The next start's monitor is spawned once this one is done with the
	// CPU (launch took the spare).
	defer s.spares.Refill()
	defer func() {
		if err != nil {
			code := startFailureCode(err)
			s.unmountRootfs(c.ID)
			s.releaseSecrets(c.ID)
			s.dns.Stop(c.ID)
			s.releaseEndpoints(c.ID)
			if _, uerr := s.update(c.ID, func(c *ccontainer.Container) error {
				clearEndpoints(c)
				c.State.SetStartFailed(code, err)
				return nil
			}); uerr != nil {
				s.log.Warn("record a failed start", "container", c.ID, "err", uerr)
			}
			if ferr := s.nets.applyFirewall(); ferr != nil {
				s.log.Warn("remove a failed start's firewall rules", "container", c.ID, "err", ferr)
			}
			if code != 128 {
				err = errdefs.InvalidArgument(err)
			}
			s.notify(c.ID, false, container.WaitResponse{StatusCode: int64(code)})
			if c.HostConfig.AutoRemove {
				s.autoRemove(c.ID)
			}
		}
	}()
	if c, err = s.allocateEndpoints(c); err != nil {
		return err
	}
	m, err := s.launch(ctx, c)
	if err != nil {
		return err
	}
	pid, err := initPid(ctx, m)
	if err != nil {
		_ = m.Signal(ctx, 9, true)
		return fmt.Errorf("start container: %w", err)
	}
	if err := s.setupNetwork(c, pid); err != nil {
		_ = m.Signal(ctx, 9, true)
		return err
	}
	if err := s.startDNS(c, pid); err != nil {
		_ = m.Signal(ctx, 9, true)
		return err
	}
	if err := s.applyFirewallFor(c); err != nil {
		_ = m.Signal(ctx, 9, true)
		return fmt.Errorf("start container: %w", err)
	}
	s.handOver(c.ID, m)
	if err := m.Start(ctx); err != nil {
		_ = m.Signal(ctx, 9, true)
		return fmt.Errorf("start container: %w", err)
	}
	if _, err := s.update(c.ID, func(c *ccontainer.Container) error {
		c.State.SetRunning(pid, time.Now())
		c.HasBeenStartedBefore = true
		resetHealth(c)
		return nil
	}); err != nil {
		_ = m.Signal(ctx, 9, true)
		return err
	}
	s.watch(c.ID, m)
	s.startHealth(c.ID)
	s.publish(c, events.ActionStart, nil)
	return nil
}

// initPid is the pid of the init of the container m created, for the
// network and the record (it is the same once the process runs): as the
// monitor reported it at its start, else from its status.
func initPid(ctx context.Context, m *monitor.Client) (int, error) {
	if pid := m.InitPid(); pid > 0 {
		return pid, nil
	}
	st, err := m.Status(ctx)
	if err != nil {
		return 0, err
	}
	return st.Pid, nil
}

// launch mounts the container's root filesystem, writes its bundle and
// starts its monitor, which creates the container (its process waits for
// Start). The monitor's process is the spare spawned ahead, else started
// first, so that its fork and exec overlap the mount and the writing.
func (s *Containers) launch(ctx context.Context, c *ccontainer.Container) (*monitor.Client, error) {
	cfg, err := s.monitorConfig(ctx, c)
	if err != nil {
		return nil, err
	}
	spawned := s.spares.Spawn(cfg)
	if err := s.writeBundle(ctx, c); err != nil {
		spawned.Abort()
		return nil, err
	}
	return spawned.Create(ctx)
}

// writeBundle mounts c's root filesystem and writes its bundle's config.
func (s *Containers) writeBundle(ctx context.Context, c *ccontainer.Container) error {
	rootfs, err := s.mountRootfs(ctx, c)
	if err != nil {
		return err
	}
	if c, err = s.writeEtcFiles(c); err != nil {
		return err
	}
	sp, err := s.buildSpec(c, rootfs)
	if err != nil {
		return err
	}
	if err := s.addSecrets(c, sp); err != nil {
		return err
	}
	return writeJSON(filepath.Join(c.BundlePath, "config.json"), sp)
}

// monitorConfig is the monitor's configuration for c.
func (s *Containers) monitorConfig(ctx context.Context, c *ccontainer.Container) (monitor.Config, error) {
	cfg := monitor.Config{ID: c.ID, StateDir: s.paths.monitors, Bundle: c.BundlePath,
		RuntimeRoot: s.paths.runtime, Binary: s.binary, OpenStdin: c.Config.OpenStdin,
		StdinOnce: c.Config.StdinOnce, NoDelete: true}
	if cs := c.HostConfig.ConsoleSize; cs[0] > 0 && cs[1] > 0 {
		cfg.ConsoleSize = [2]uint16{uint16(cs[0]), uint16(cs[1])}
	}
	var err error
	cfg.Log, err = monitorLog(ctx, c)
	return cfg, err
}

// buildSpec makes the OCI config of c over the mounted rootfs.
func (s *Containers) buildSpec(c *ccontainer.Container, rootfs string) (*specs.Spec, error) {
	in := spec.Input{ID: c.ID, Config: c.Config, HostConfig: c.HostConfig, Rootfs: rootfs,
		ResolvConfPath: c.ResolvConfPath, HostnamePath: c.HostnamePath, HostsPath: c.HostsPath,
		Daemon: s.settings, Host: s.host}
	in.Passwd, _ = readInRoot(rootfs, "/etc/passwd")
	in.Group, _ = readInRoot(rootfs, "/etc/group")
	var err error
	if in.Devices, err = resolveDevices(c.HostConfig.Devices); err != nil {
		return nil, err
	}
	if in.Mounts, err = s.specMounts(c); err != nil {
		return nil, err
	}
	if in.NamespacePaths, err = s.joinedNamespaces(c); err != nil {
		return nil, err
	}
	if c.HostConfig.Privileged {
		in.HostDevices = hostDevices()
	}
	sp, err := spec.Build(in)
	if err != nil {
		return nil, errdefs.InvalidArgument(err)
	}
	sp.Process.Env = homeEnv(sp.Process.Env, sp.Process.User.UID, in.Passwd)
	return sp, nil
}

// joinedNamespaces are the namespaces c joins: with --network
// container:ID, that container's network namespace, which must be
// running.
func (s *Containers) joinedNamespaces(c *ccontainer.Container) (map[specs.LinuxNamespaceType]string, error) {
	m := c.HostConfig.NetworkMode
	if !m.IsContainer() {
		return nil, nil
	}
	other, err := s.get(m.ConnectedContainer())
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("cannot join network namespace of container: %w", err))
	}
	if !other.State.Running || other.State.Pid <= 0 {
		return nil, errdefs.Conflict(fmt.Errorf("cannot join network namespace of a non running container %s", other.ID))
	}
	return map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: fmt.Sprintf("/proc/%d/ns/net", other.State.Pid)}, nil
}

// mountRootfs mounts c's snapshot at its bundle's rootfs (once).
func (s *Containers) mountRootfs(ctx context.Context, c *ccontainer.Container) (string, error) {
	rootfs := s.paths.rootfs(c.ID)
	if err := os.MkdirAll(rootfs, 0o700); err != nil {
		return "", fmt.Errorf("create bundle: %w", err)
	}
	if mounted(rootfs) {
		return rootfs, nil
	}
	mounts, err := s.snapshots().Mounts(ctx, c.SnapshotKey)
	if err != nil {
		return "", fmt.Errorf("container filesystem: %w", err)
	}
	if err := snapshot.MountAll(mounts, rootfs); err != nil {
		return "", fmt.Errorf("mount container filesystem: %w", err)
	}
	return rootfs, nil
}

// unmountRootfs unmounts container id's rootfs, if mounted.
func (s *Containers) unmountRootfs(id string) {
	s.unmountVolumes(id)
	rootfs := s.paths.rootfs(id)
	if mounted(rootfs) {
		if err := snapshot.UnmountAll(rootfs); err != nil {
			s.log.Warn("unmount container filesystem", "container", id, "err", err)
		}
	}
}

// startFailureCode is the exit code dockerd records for a start that
// failed: 127 when the command does not exist, 126 when it cannot be run,
// 128 otherwise.
func startFailureCode(err error) int {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"),
		strings.Contains(msg, "exec format error"):
		return 126
	}
	return 128
}

func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", filepath.Base(path), err), os.Remove(tmp))
	}
	return nil
}
