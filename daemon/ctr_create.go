package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	cimage "github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/spec"
)

// ContainerCreate is POST /containers/create: it checks the request,
// resolves the image, reserves the name, prepares the writable snapshot
// and stores the record. On any failure nothing is left behind.
func (s *Containers) ContainerCreate(ctx context.Context, opts api.ContainerCreateOptions) (container.CreateResponse, error) {
	if opts.Config == nil {
		return container.CreateResponse{}, errdefs.InvalidArgument(errors.New("config cannot be empty in order to create a container"))
	}
	hc := opts.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if err := checkJoinedNetwork(opts.Config, hc); err != nil {
		return container.CreateResponse{}, err
	}
	if _, err := parseExtraHosts(hc.ExtraHosts, netip.IPv4Unspecified()); err != nil {
		return container.CreateResponse{}, err
	}
	img, err := s.createImage(ctx, opts.Config.Image)
	if err != nil {
		return container.CreateResponse{}, err
	}
	cfg, hc, err := s.createConfig(opts.Config, hc, img)
	if err != nil {
		return container.CreateResponse{}, err
	}
	release, err := s.secrets.check(opts.Config.Labels, cfg.Labels)
	if err != nil {
		return container.CreateResponse{}, err
	}
	defer release()
	c := &ccontainer.Container{ID: ccontainer.NewID(), Created: time.Now().UTC(), Image: opts.Config.Image,
		ImageID: img.ID, Platform: "linux", Config: cfg, HostConfig: hc, Driver: "overlayfs",
		NetworkSettings: &container.NetworkSettings{}}
	c.Path, c.Args = commandOf(cfg)
	if err := s.createNetworks(c, opts.NetworkingConfig); err != nil {
		return container.CreateResponse{}, err
	}
	if err := setHostname(c); err != nil {
		return container.CreateResponse{}, err
	}
	plan, err := s.resolveMounts(c)
	if err != nil {
		return container.CreateResponse{}, err
	}
	if err := s.createRecord(ctx, c, opts.Name, img); err != nil {
		s.undoMounts(c.ID, plan)
		return container.CreateResponse{}, err
	}
	if err := s.copyUp(ctx, c, plan); err != nil {
		return container.CreateResponse{}, s.undoCreate(ctx, c, plan, err)
	}
	s.publish(c, events.ActionCreate, nil)
	return container.CreateResponse{ID: c.ID, Warnings: []string{}}, nil
}

// createImage resolves the image a container is created from.
func (s *Containers) createImage(ctx context.Context, ref string) (cimage.InspectResult, error) {
	if ref == "" {
		return cimage.InspectResult{}, errdefs.InvalidArgument(errors.New("no image specified"))
	}
	if _, err := s.images.get(ctx, ref); err != nil {
		return cimage.InspectResult{}, err
	}
	return s.images.store.Inspect(ctx, ref)
}

// createConfig merges the image's config under the request's and checks
// the result, as dockerd does at create.
func (s *Containers) createConfig(req *container.Config, hc *container.HostConfig, img cimage.InspectResult) (*container.Config, *container.HostConfig, error) {
	cfg := spec.MergeImageConfig(req, ociImageConfig(img.Config))
	if ic := img.Config; ic != nil {
		cfg.Healthcheck = inheritHealth(cfg.Healthcheck, ic.Healthcheck)
		if cfg.StopTimeout == nil {
			cfg.StopTimeout = ic.StopTimeout
		}
	}
	if len(cfg.Entrypoint) == 0 && len(cfg.Cmd) == 0 {
		return nil, nil, errdefs.InvalidArgument(errors.New("no command specified"))
	}
	hc2 := *hc
	if err := s.checkNetworkMode(&hc2); err != nil {
		return nil, nil, err
	}
	if err := ccontainer.ValidateRestartPolicy(hc2.RestartPolicy); err != nil {
		return nil, nil, errdefs.InvalidArgument(err)
	}
	if hc2.AutoRemove && hc2.RestartPolicy.Name != "" && hc2.RestartPolicy.Name != container.RestartPolicyDisabled {
		return nil, nil, errdefs.InvalidArgument(errors.New("can't create 'AutoRemove' container with restart policy"))
	}
	lc, err := mergeLogConfig(hc2.LogConfig, s.logDefaults)
	if err != nil {
		return nil, nil, err
	}
	hc2.LogConfig = lc
	if err := spec.Validate(cfg, &hc2); err != nil {
		return nil, nil, errdefs.InvalidArgument(err)
	}
	if err := validateHealth(cfg); err != nil {
		return nil, nil, err
	}
	if err := checkOnHost(cfg, &hc2, s.host.NumCPU, onlineCPUs()); err != nil {
		return nil, nil, err
	}
	return cfg, &hc2, nil
}

// onlineCPUs is the host's list of online CPUs ("0-1"), "" if unknown.
func onlineCPUs() string {
	b, _ := os.ReadFile("/sys/devices/system/cpu/online")
	return strings.TrimSpace(string(b))
}

// checkOnHost refuses at create, as dockerd does, what would only fail at
// start on this host: an unknown stop signal, more CPUs than numCPU, CPUs
// not in the online list.
func checkOnHost(cfg *container.Config, hc *container.HostConfig, numCPU int, online string) error {
	if cfg.StopSignal != "" {
		if _, err := parseSignal(cfg.StopSignal); err != nil {
			return err
		}
	}
	if n := int64(numCPU); n > 0 && hc.NanoCPUs > n*1e9 {
		//lint:ignore ST1005 dockerd's wording.
		return errdefs.InvalidArgument(fmt.Errorf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n))
	}
	if hc.CpusetCpus == "" || online == "" {
		return nil
	}
	want, err := cpuList(hc.CpusetCpus)
	if err != nil {
		//lint:ignore ST1005 dockerd's wording.
		return errdefs.InvalidArgument(fmt.Errorf("Invalid value %s for cpuset cpus", hc.CpusetCpus))
	}
	have, err := cpuList(online)
	if err != nil {
		return nil // the host's list is not ours to judge
	}
	for cpu := range want {
		if !have[cpu] {
			//lint:ignore ST1005 dockerd's wording.
			return errdefs.InvalidArgument(fmt.Errorf("Requested CPUs are not available - requested %s, available: %s", hc.CpusetCpus, online))
		}
	}
	return nil
}

// maxCPU bounds the CPU numbers cpuList accepts.
const maxCPU = 1 << 16

// cpuList reads a CPU list as the kernel writes it ("0-3,6").
func cpuList(s string) (map[int]bool, error) {
	out := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= maxCPU {
			return nil, fmt.Errorf("invalid CPU list %q", s)
		}
		for cpu := a; cpu <= b; cpu++ {
			out[cpu] = true
		}
	}
	return out, nil
}

// setHostname gives a container without -h its hostname, as dockerd: the
// host's with the host's network, else the short ID.
func setHostname(c *ccontainer.Container) error {
	if c.Config.Hostname != "" {
		return nil
	}
	if c.HostConfig.NetworkMode != "host" {
		c.Config.Hostname = c.ID[:12]
		return nil
	}
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("read the host's name: %w", err)
	}
	c.Config.Hostname = host
	return nil
}

// createRecord names the container, prepares its snapshot and stores it,
// undoing each step if a later one fails.
func (s *Containers) createRecord(ctx context.Context, c *ccontainer.Container, name string, img cimage.InspectResult) (err error) {
	if name != "" {
		c.Name, err = s.store.ReserveName(name, c.ID)
	} else {
		c.Name, err = s.store.GenerateName(c.ID)
	}
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.store.ReleaseName(c.Name, c.ID)
		}
	}()
	parent := ""
	if chain := cimage.ChainIDs(layerDigests(img)); len(chain) > 0 {
		parent = chain[len(chain)-1].String()
	}
	c.SnapshotKey = snapshotKey(c.ID)
	if _, err := s.snapshots().Prepare(ctx, c.SnapshotKey, parent); err != nil {
		return fmt.Errorf("prepare container filesystem: %w", err)
	}
	c.BundlePath = s.paths.bundle(c.ID)
	c.StatePath = filepath.Join(s.paths.monitors, c.ID)
	c.LogPath = filepath.Join(s.store.Dir(c.ID), c.ID+"-json.log")
	if err := s.store.Create(ctx, c); err != nil {
		return errors.Join(err, s.snapshots().Remove(context.WithoutCancel(ctx), c.SnapshotKey))
	}
	return nil
}

// commandOf splits the command a container runs into Path and Args.
func commandOf(cfg *container.Config) (string, []string) {
	argv := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	if len(argv) == 0 {
		return "", []string{}
	}
	return argv[0], argv[1:]
}

// ociImageConfig is an image's container config in OCI form, for
// spec.MergeImageConfig.
func ociImageConfig(c *cimage.ContainerConfig) *ocispec.ImageConfig {
	if c == nil {
		return nil
	}
	return &dockerConfig(c).ImageConfig
}

// layerDigests are the image's layer diff IDs.
func layerDigests(img cimage.InspectResult) []digest.Digest {
	out := make([]digest.Digest, 0, len(img.RootFS.Layers))
	for _, l := range img.RootFS.Layers {
		out = append(out, digest.Digest(l))
	}
	return out
}
