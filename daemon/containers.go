package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/moby/moby/api/types/events"

	"github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/monitor"
	"github.com/corral-dev/corral/network/resolver"
	"github.com/corral-dev/corral/snapshot"
	"github.com/corral-dev/corral/spec"
)

// Containers is the engine's container service: it sequences the container
// store, the image store's snapshots, spec and the monitors into the
// container verbs of the Engine API.
//
// Lock order: a container's op lock (ops), then Containers.mu. Records are
// changed only through the store's Update, under the container's op lock,
// so a verb sees the record it checked until it is done.
type Containers struct {
	store    *container.Store
	images   *Images
	events   *Events
	log      *slog.Logger
	paths    execPaths
	settings spec.Daemon
	host     spec.Host
	binary   string
	secrets  *Secrets
	vols     *Volumes
	nets     *Networks
	// dns serves the embedded DNS to containers on user networks.
	dns *resolver.Server
	// logDefaults are the daemon's log-driver and log-opts.
	logDefaults LogConfig
	// spares keeps a monitor process spawned ahead of the next start.
	spares *monitor.Spares

	// ctx lives as long as the service: exit watchers and restart timers
	// end with it (the containers do not).
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	ops opLocks
	// health runs the health checks of running containers (ctr_health.go).
	health healthLoops

	// netMu orders the endpoint changes of a container (allocation at
	// start, connect) with its exit's release; lock order: a container's
	// op lock, then netMu, then the network store's own.
	netMu sync.Mutex
	// releasing are the endpoint releases exits left running in the
	// background (ctr_release.go).
	releasing releases

	// mu guards the maps below.
	mu sync.Mutex
	// watching holds the running containers whose exit a watcher awaits.
	watching map[string]bool
	// waiters get the next exit (or removal) of a container.
	waiters map[string][]*waiter
	// attaches are attach requests made before start, handed the monitor
	// when the container starts.
	attaches map[string][]*pendingAttach
	// execs are the exec instances by ID.
	execs map[string]*execRecord
}

// execPaths are the directories under the exec root (state that a reboot
// must clear): monitors' directories, the runtime's state and bundles.
type execPaths struct {
	root     string
	monitors string
	runtime  string
	bundles  string
}

func newExecPaths(root string) execPaths {
	return execPaths{root: root, monitors: filepath.Join(root, "monitors"),
		runtime: filepath.Join(root, "runtime"), bundles: filepath.Join(root, "bundles")}
}

// bundle is the OCI bundle directory of container id.
func (p execPaths) bundle(id string) string { return filepath.Join(p.bundles, id) }

// rootfs is where container id's root filesystem is mounted.
func (p execPaths) rootfs(id string) string { return filepath.Join(p.bundles, id, "rootfs") }

// ContainersOptions configure the container service.
type ContainersOptions struct {
	// Root is the data root (records under Root/containers); ExecRoot the
	// runtime state root.
	Root, ExecRoot string
	Images         *Images
	Events         *Events
	Log            *slog.Logger
	// Binary is the corral binary monitors run from ("" for this one).
	Binary string
	// Settings are the daemon-wide container defaults.
	Settings spec.Daemon
	// Secrets resolves the containers' --secret references.
	Secrets *Secrets
	// Volumes is the volume service (nil: the one under Root/volumes).
	Volumes *Volumes
	// Networks is the network service (nil: the one under Root/networks,
	// with the default bridge corral0).
	Networks *Networks
	// LogConfig is the log driver and options of containers that name
	// none (Config.LogDriver, LogOpts).
	LogConfig LogConfig
}

// NewContainers opens the container store and restores the containers it
// holds: running ones are reconnected to their monitors, those whose
// monitor is gone are marked exited, and restart policies apply.
func NewContainers(ctx context.Context, opts ContainersOptions) (*Containers, error) {
	store, err := container.Open(ctx, filepath.Join(opts.Root, "containers"))
	if err != nil {
		return nil, fmt.Errorf("open container store: %w", err)
	}
	s := &Containers{store: store, images: opts.Images, events: opts.Events, log: opts.Log,
		paths: newExecPaths(opts.ExecRoot), settings: opts.Settings, host: hostFacts(), binary: opts.Binary,
		secrets: opts.Secrets, logDefaults: opts.LogConfig, watching: map[string]bool{}, waiters: map[string][]*waiter{},
		attaches: map[string][]*pendingAttach{}, execs: map[string]*execRecord{},
		spares: monitor.NewSpares(opts.Binary)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.vols = opts.Volumes; s.vols == nil {
		if s.vols, err = openVolumes(opts.Root, opts.Events); err != nil {
			store.Close()
			return nil, err
		}
	}
	if s.nets = opts.Networks; s.nets == nil {
		if s.nets, err = openNetworks(opts.Root, networkConfig{}, opts.Events); err != nil {
			store.Close()
			return nil, err
		}
	}
	s.nets.ctrs = s
	s.dns = resolver.NewServer(resolver.New(s.nets.store), s.log)
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, dir := range []string{s.paths.root, s.paths.monitors, s.paths.runtime, s.paths.bundles} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			store.Close()
			return nil, fmt.Errorf("create exec root: %w", err)
		}
	}
	s.restoreVolumes()
	s.reconcileEndpoints()
	s.restore(ctx)
	if err := s.nets.applyFirewall(); err != nil {
		s.log.Warn("rebuild firewall rules", "err", err)
	}
	s.spares.Refill()
	return s, nil
}

// Close stops watching the containers, which go on running under their
// monitors, and closes the store.
func (s *Containers) Close() error {
	s.spares.Close()
	s.cancel()
	s.wg.Wait()
	return s.store.Close()
}

// get finds the container ref names (ID, name or ID prefix).
func (s *Containers) get(ref string) (*container.Container, error) {
	return s.store.Get(ref)
}

// lock finds ref and takes its op lock; unlock releases it.
func (s *Containers) lock(ref string) (c *container.Container, unlock func(), err error) {
	c, err = s.get(ref)
	if err != nil {
		return nil, nil, err
	}
	unlock = s.ops.lock(c.ID)
	// The record may have changed (or gone) while we waited.
	if c, err = s.store.Get(c.ID); err != nil {
		unlock()
		return nil, nil, err
	}
	return c, unlock, nil
}

// update changes the record of id.
func (s *Containers) update(id string, fn func(c *container.Container) error) (*container.Container, error) {
	return s.store.Update(s.ctx, id, fn)
}

// monitorOf connects to the monitor of a running container.
func (s *Containers) monitorOf(ctx context.Context, c *container.Container) (*monitor.Client, error) {
	m, err := monitor.Connect(ctx, s.paths.monitors, c.ID)
	if err != nil {
		if errors.Is(err, monitor.ErrMonitorDead) || errdefs.IsNotFound(err) {
			return nil, errdefs.Conflict(fmt.Errorf("container %s is not running", c.ID))
		}
		return nil, err
	}
	return m, nil
}

// publish sends a container event with the container's name, image and
// labels as attributes, as dockerd does; extra adds more.
func (s *Containers) publish(c *container.Container, action events.Action, extra map[string]string) {
	if s.events == nil {
		return
	}
	attrs := map[string]string{"name": c.Name[1:], "image": c.Image}
	for k, v := range c.Labels() {
		attrs[k] = v
	}
	for k, v := range extra {
		attrs[k] = v
	}
	s.events.Publish(events.Message{Type: events.ContainerEventType, Action: action,
		Actor: events.Actor{ID: c.ID, Attributes: attrs}})
}

// snapshots is the image store's snapshotter, which holds the containers'
// writable layers too.
func (s *Containers) snapshots() snapshot.Snapshotter { return s.images.store.Snapshotter() }

// snapshotKey is the key of container id's writable snapshot.
func snapshotKey(id string) string { return "container-" + id }
