package daemon

import (
	"bufio"
	"context"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"
)

// Info is GET /info: what docker info prints of the engine and its host.
func (d *Daemon) Info(ctx context.Context) (system.Info, error) {
	sums, err := d.images.store.Images(ctx)
	if err != nil {
		return system.Info{}, err
	}
	info := system.Info{
		ID: d.id, Images: len(sums), Name: hostname(), ServerVersion: d.version(),
		Driver: "overlayfs", DriverStatus: [][2]string{{"driver-type", "io.containerd.snapshotter.v1"}},
		DockerRootDir: d.root, Debug: d.cfg.Debug, LoggingDriver: d.loggingDriver(),
		CgroupDriver: "cgroupfs", CgroupVersion: cgroupVersion(),
		Plugins: system.PluginsInfo{Volume: []string{"local"}, Network: []string{"bridge", "host", "none"},
			Log: logDrivers},
		Runtimes:       map[string]system.RuntimeWithStatus{"corral": {Runtime: system.Runtime{Path: "corral"}}},
		DefaultRuntime: "corral", SecurityOptions: []string{"name=seccomp,profile=builtin"},
		LiveRestoreEnabled: true, Swarm: swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		OSType: runtime.GOOS, OperatingSystem: operatingSystem(), NCPU: runtime.NumCPU(),
		IndexServerAddress: "https://index.docker.io/v1/", RegistryConfig: registryConfig(d.cfg.InsecureRegistries),
		SystemTime: time.Now().Format(time.RFC3339Nano), NGoroutines: runtime.NumGoroutine(), NFd: openFiles(),
		HTTPProxy: os.Getenv("HTTP_PROXY"), HTTPSProxy: os.Getenv("HTTPS_PROXY"), NoProxy: os.Getenv("NO_PROXY"),
		MemoryLimit: true, SwapLimit: true, CPUCfsPeriod: true, CPUCfsQuota: true, CPUShares: true,
		CPUSet: true, PidsLimit: true, OomKillDisable: true, IPv4Forwarding: ipv4Forwarding(),
		Labels: []string{}, Warnings: []string{}, InitBinary: "corral",
		RuncCommit: system.Commit{ID: d.version()}, InitCommit: system.Commit{ID: d.version()},
	}
	if d.ctrs != nil {
		for _, c := range d.ctrs.store.All() {
			info.Containers++
			switch {
			case c.State.Paused:
				info.ContainersPaused++
			case c.State.Running:
				info.ContainersRunning++
			default:
				info.ContainersStopped++
			}
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		info.KernelVersion = unix.ByteSliceToString(u.Release[:])
		info.Architecture = unix.ByteSliceToString(u.Machine[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		info.MemTotal = int64(si.Totalram) * int64(si.Unit)
	}
	return info, nil
}

func (d *Daemon) version() string {
	if d.cfg.Version == "" {
		return "dev"
	}
	return d.cfg.Version
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// operatingSystem is PRETTY_NAME of /etc/os-release.
func operatingSystem() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return "Linux"
}

// cgroupVersion is "2" on a unified hierarchy, "1" otherwise (v1 or
// hybrid, which corral drives as v1).
func cgroupVersion() string {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "2"
	}
	return "1"
}

func ipv4Forwarding() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

func openFiles() int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(fds)
}

// registryConfig is what docker info shows of the registries: loopback
// and the configured CIDRs are insecure, and the configured hosts.
func registryConfig(insecure []string) *registry.ServiceConfig {
	cfg := &registry.ServiceConfig{
		InsecureRegistryCIDRs: []netip.Prefix{netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("127.0.0.0/8")},
		IndexConfigs: map[string]*registry.IndexInfo{
			"docker.io": {Name: "docker.io", Mirrors: []string{}, Secure: true, Official: true},
		},
		Mirrors: []string{},
	}
	for _, r := range insecure {
		if p, err := netip.ParsePrefix(r); err == nil {
			cfg.InsecureRegistryCIDRs = append(cfg.InsecureRegistryCIDRs, p)
			continue
		}
		cfg.IndexConfigs[r] = &registry.IndexInfo{Name: r, Mirrors: []string{}}
	}
	return cfg
}
