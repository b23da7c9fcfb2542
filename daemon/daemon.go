// Package daemon is the engine's service layer: it sequences the domain
// packages (image, registry, ...) into the verbs of the Docker Engine API
// and answers in the API's types, so that the API server only has to move
// them over HTTP. Daemon ties the parts together and owns the data root
// while it runs: Images is the image and registry part (pull, push, list,
// inspect, history, tag, remove, prune, load, save, import, login, disk
// usage), Events the engine's event bus, and Daemon itself answers the
// engine-wide calls (info, events, disk usage). Long operations answer the
// JSON message stream dockerd writes (status, id, progressDetail,
// errorDetail, aux).
package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"

	"github.com/corral-dev/corral/api"
	cimage "github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/spec"
)

// Daemon is the engine over one data root. Only one Daemon runs on a data
// root at a time (a lock file in it says so).
type Daemon struct {
	cfg     Config
	root    string
	id      string
	started time.Time
	lock    *rootLock
	pidFile *pidFile
	events  *Events
	images  *Images
	ctrs    *Containers
	secrets *Secrets
	vols    *Volumes
	nets    *Networks

	builderOnce sync.Once
	builder     *Builds
}

// New opens the engine on cfg.DataRoot: it locks the data root (failing
// with errdefs.ErrConflict if another daemon holds it), writes the pid file
// and opens the image store. Close releases all of it.
func New(ctx context.Context, cfg Config) (*Daemon, error) {
	d := &Daemon{cfg: cfg, root: cfg.DataRoot, started: time.Now(), events: NewEvents()}
	if d.root == "" {
		d.root = cimage.DefaultRoot
	}
	var err error
	if d.root, err = filepath.Abs(d.root); err != nil {
		return nil, fmt.Errorf("data root: %w", err)
	}
	if err := d.open(ctx); err != nil {
		return nil, errors.Join(err, d.Close())
	}
	return d, nil
}

func (d *Daemon) open(ctx context.Context) error {
	// Root's alone to write, as dockerd makes its own (the socket of a
	// daemon started for a data root lives in it).
	if err := os.MkdirAll(d.root, 0o711); err != nil {
		return fmt.Errorf("create data root: %w", err)
	}
	if err := os.Chmod(d.root, 0o711); err != nil {
		return fmt.Errorf("set data root mode: %w", err)
	}
	var err error
	if d.lock, err = lockRoot(d.root); err != nil {
		return err
	}
	path := d.cfg.PIDFile
	if path == "" {
		path = DefaultPIDFile
	}
	if d.pidFile, err = writePIDFile(path); err != nil {
		return err
	}
	if d.id, err = engineID(d.root); err != nil {
		return err
	}
	d.images, err = NewImages(ctx, ImagesOptions{Root: d.root, Insecure: d.cfg.InsecureRegistries, Events: d.events})
	if err != nil {
		return err
	}
	if d.secrets, err = NewSecrets(filepath.Join(d.root, "secrets"), d.containerRecords); err != nil {
		return err
	}
	if d.vols, err = openVolumes(d.root, d.events); err != nil {
		return err
	}
	pools, err := addressPools(d.cfg.DefaultAddressPools)
	if err != nil {
		return err
	}
	if d.nets, err = openNetworks(d.root, networkConfig{bridge: d.cfg.Bridge, bip: d.cfg.BIP, pools: pools,
		ipv6: d.cfg.IPv6, cidr6: d.cfg.FixedCIDRv6}, d.events); err != nil {
		return err
	}
	logs, err := daemonLogConfig(d.cfg.LogDriver, d.cfg.LogOpts)
	if err != nil {
		return err
	}
	d.ctrs, err = NewContainers(ctx, ContainersOptions{Root: d.root, ExecRoot: d.execRoot(), Images: d.images,
		Events: d.events, Binary: d.cfg.Binary, Settings: spec.Daemon{InitPath: initPath(d.cfg.InitPath)},
		Secrets: d.secrets, Volumes: d.vols, Networks: d.nets, LogConfig: logs})
	if err != nil {
		return err
	}
	d.images.users = d.imageUsers
	return nil
}

// imageUsers are the containers made from image id, running ones first.
func (d *Daemon) imageUsers(id string) []imageUser {
	var running, stopped []imageUser
	for _, c := range d.ctrs.store.All() {
		switch {
		case c.ImageID != id:
		case c.State.Running:
			running = append(running, imageUser{id: c.ID, running: true})
		default:
			stopped = append(stopped, imageUser{id: c.ID})
		}
	}
	return append(running, stopped...)
}

// execRoot is the runtime state root: /run/corral for the default data
// root, a directory of its own under it for another.
func (d *Daemon) execRoot() string {
	if d.cfg.ExecRoot != "" {
		return d.cfg.ExecRoot
	}
	if d.root == cimage.DefaultRoot {
		return DefaultExecRoot
	}
	sum := sha256.Sum256([]byte(d.root))
	return filepath.Join(DefaultExecRoot, "roots", hex.EncodeToString(sum[:6]))
}

// DefaultExecRoot is the default runtime state root.
const DefaultExecRoot = "/run/corral"

// initPath finds the init of `run --init`.
func initPath(configured string) string {
	if configured != "" {
		return configured
	}
	candidates := []string{"/usr/local/libexec/corral/corral-init"}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "corral-init"))
	}
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return candidates[0]
}

// Close stops the engine: it closes the event streams and the image store,
// removes the pid file and unlocks the data root.
func (d *Daemon) Close() error {
	var errs []error
	if d.ctrs != nil {
		errs = append(errs, d.ctrs.Close())
	}
	d.events.Close()
	if d.images != nil {
		errs = append(errs, d.images.Close())
	}
	if d.pidFile != nil {
		errs = append(errs, d.pidFile.remove())
	}
	if d.lock != nil {
		errs = append(errs, d.lock.unlock())
	}
	return errors.Join(errs...)
}

// Root is the data root, absolute.
func (d *Daemon) Root() string { return d.root }

// Containers is the container service.
func (d *Daemon) Containers() *Containers { return d.ctrs }

// Networks is the network service.
func (d *Daemon) Networks() *Networks { return d.nets }

// Volumes is the volume service.
func (d *Daemon) Volumes() *Volumes { return d.vols }

// Images is the image service.
func (d *Daemon) Images() *Images { return d.images }

// Events is GET /events.
func (d *Daemon) Events(ctx context.Context, opts api.EventsOptions) (<-chan events.Message, error) {
	return d.events.Subscribe(ctx, opts)
}

// DiskUsage is GET /system/df: images and containers.
func (d *Daemon) DiskUsage(ctx context.Context) (system.DiskUsage, error) {
	du, err := d.images.DiskUsage(ctx)
	if err != nil || d.ctrs == nil {
		return du, err
	}
	list, err := d.ctrs.ContainerList(ctx, api.ContainerListOptions{All: true, Size: true})
	if err != nil {
		return du, err
	}
	cu := &container.DiskUsage{Items: list, TotalCount: int64(len(list))}
	for _, c := range list {
		cu.TotalSize += c.SizeRw
		if c.State == container.StateRunning || c.State == container.StatePaused {
			cu.ActiveCount++
		} else {
			cu.Reclaimable += c.SizeRw
		}
	}
	du.ContainerUsage = cu
	du.VolumeUsage = d.vols.diskUsage()
	countImageUsers(du.ImageUsage, list)
	du.BuildCacheUsage, err = d.Builder().diskUsage(ctx)
	return du, err
}

// countImageUsers sets each image's container count, and the images in use.
func countImageUsers(iu *image.DiskUsage, list []container.Summary) {
	if iu == nil {
		return
	}
	users := map[string]int64{}
	for _, c := range list {
		users[c.ImageID]++
	}
	iu.ActiveCount = 0
	for i := range iu.Items {
		n := users[iu.Items[i].ID]
		iu.Items[i].Containers = n
		if n > 0 {
			iu.ActiveCount++
			iu.Reclaimable -= iu.Items[i].Size
		}
	}
	if iu.Reclaimable < 0 {
		iu.Reclaimable = 0
	}
}
