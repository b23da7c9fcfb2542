package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"

	"github.com/corral-dev/corral/api"
)

// hostnameShorthand is -h of --hostname, as docker's run and create have
// it (setup in cli.go then gives those two a --help without -h).
const hostnameShorthand = "h"

// containerFlags are docker's flags of run and create that make the
// container's configuration (parseContainer turns them into the API's create
// options; runflags_values.go has their types, runflags_parse.go and
// runflags_net.go the parsers of their values).
type containerFlags struct {
	attach, env, envFile, labels, labelFile                    listValue
	publish, expose, dns, dnsSearch, dnsOptions, addHost       listValue
	capAdd, capDrop, groupAdd, securityOpt, logOpt, devices    listValue
	tmpfs, volumes, volumesFrom, deviceCgroupRules, storageOpt listValue
	sysctls, annotations                                       mapValue
	ulimits                                                    ulimitValue
	mounts                                                     mountValue
	networks                                                   networkValue
	netAliases                                                 listValue
	memory, memoryReservation, shmSize                         memBytes
	memorySwap                                                 memSwapBytes
	cpus                                                       nanoCPUs

	cpuShares, cpuPeriod, cpuQuota, pidsLimit, swappiness int64
	cpusetCpus, cpusetMems, cgroupParent                  string
	oomKillDisable                                        bool
	oomScoreAdj                                           int

	stdin, tty, autoRemove, privileged, readOnly, publishAll, init  bool
	entrypoint, workdir, user, hostname, domainname, restart        string
	stopSignal, ipc, pid, uts, userns, cgroupns, logDriver, runtime string
	stopTimeout                                                     int

	healthCmd                                                             string
	healthInterval, healthTimeout, healthStartPeriod, healthStartInterval time.Duration
	healthRetries                                                         int
	noHealthcheck                                                         bool
	healthOnFailure                                                       string

	secrets secretValue
}

// addContainerFlags binds docker's container flags to fs.
func addContainerFlags(fs *pflag.FlagSet) *containerFlags {
	f := &containerFlags{}
	f.attach.validate = validateAttach
	f.env.validate = validateEnv
	f.labels.validate = validateLabel
	f.dns.validate = validateIP
	f.dnsSearch.validate = validateDNSSearch
	f.addHost.validate = validateExtraHost
	f.deviceCgroupRules.validate = validateDeviceCgroupRule
	f.sysctls.validate = validateSysctl
	addGeneralFlags(fs, f)
	addSecurityFlags(fs, f)
	addNetworkFlags(fs, f)
	addStorageFlags(fs, f)
	addHealthFlags(fs, f)
	addResourceFlags(fs, f)
	addSecretFlags(fs, f)
	return f
}

func addGeneralFlags(fs *pflag.FlagSet, f *containerFlags) {
	fs.VarP(&f.attach, "attach", "a", "Attach to STDIN, STDOUT or STDERR")
	fs.Var(&f.deviceCgroupRules, "device-cgroup-rule", "Add a rule to the cgroup allowed devices list")
	fs.Var(&f.devices, "device", "Add a host device to the container")
	fs.VarP(&f.env, "env", "e", "Set environment variables")
	fs.Var(&f.envFile, "env-file", "Read in a file of environment variables")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.Var(&f.groupAdd, "group-add", "Add additional groups to join")
	fs.StringVarP(&f.hostname, "hostname", hostnameShorthand, "", "Container host name")
	fs.StringVar(&f.domainname, "domainname", "", "Container NIS domain name")
	fs.BoolVarP(&f.stdin, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.VarP(&f.labels, "label", "l", "Set meta data on a container")
	fs.Var(&f.labelFile, "label-file", "Read in a line delimited file of labels")
	fs.BoolVar(&f.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.StringVar(&f.restart, "restart", string(container.RestartPolicyDisabled), "Restart policy to apply when a container exits")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "Signal to stop the container")
	fs.IntVar(&f.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	fs.Var(&f.sysctls, "sysctl", "Sysctl options")
	fs.BoolVarP(&f.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.Var(&f.ulimits, "ulimit", "Ulimit options")
	fs.StringVarP(&f.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "Working directory inside the container")
	fs.BoolVar(&f.autoRemove, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	fs.BoolVar(&f.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	fs.StringVar(&f.runtime, "runtime", "", "Runtime to use for this container")
	fs.Var(&f.annotations, "annotation", "Add an annotation to the container (passed through to the OCI runtime)")
}

func addSecurityFlags(fs *pflag.FlagSet, f *containerFlags) {
	fs.Var(&f.capAdd, "cap-add", "Add Linux capabilities")
	fs.Var(&f.capDrop, "cap-drop", "Drop Linux capabilities")
	fs.BoolVar(&f.privileged, "privileged", false, "Give extended privileges to this container")
	fs.Var(&f.securityOpt, "security-opt", "Security Options")
	fs.StringVar(&f.userns, "userns", "", "User namespace to use")
	fs.StringVar(&f.cgroupns, "cgroupns", "", `Cgroup namespace to use (host|private)
'host':    Run the container in the Docker host's cgroup namespace
'private': Run the container in its own private cgroup namespace
'':        Use the cgroup namespace as configured by the
           default-cgroupns-mode option on the daemon (default)`)
}

func addNetworkFlags(fs *pflag.FlagSet, f *containerFlags) {
	fs.Var(&f.addHost, "add-host", "Add a custom host-to-IP mapping (host:ip)")
	fs.Var(&f.dns, "dns", "Set custom DNS servers")
	fs.Var(&f.dnsOptions, "dns-opt", "Set DNS options")
	fs.Var(&f.dnsOptions, "dns-option", "Set DNS options")
	_ = fs.MarkHidden("dns-opt")
	fs.Var(&f.dnsSearch, "dns-search", "Set custom DNS search domains")
	fs.Var(&f.expose, "expose", "Expose a port or a range of ports")
	fs.VarP(&f.publish, "publish", "p", "Publish a container's port(s) to the host")
	fs.BoolVarP(&f.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fs.Var(&f.netAliases, "network-alias", "Add network-scoped alias for the container")
	fs.Var(&f.netAliases, "net-alias", "Add network-scoped alias for the container")
	_ = fs.MarkHidden("net-alias")
	fs.Var(&f.networks, "net", "Connect a container to a network")
	fs.Var(&f.networks, "network", "Connect a container to a network")
	_ = fs.MarkHidden("net")
}

func addStorageFlags(fs *pflag.FlagSet, f *containerFlags) {
	fs.StringVar(&f.logDriver, "log-driver", "", "Logging driver for the container")
	fs.Var(&f.logOpt, "log-opt", "Log driver options")
	fs.Var(&f.storageOpt, "storage-opt", "Storage driver options for the container")
	fs.Var(&f.tmpfs, "tmpfs", "Mount a tmpfs directory")
	fs.Var(&f.volumesFrom, "volumes-from", "Mount volumes from the specified container(s)")
	fs.VarP(&f.volumes, "volume", "v", "Bind mount a volume")
	fs.Var(&f.mounts, "mount", "Attach a filesystem mount to the container")
}

func addHealthFlags(fs *pflag.FlagSet, f *containerFlags) {
	fs.StringVar(&f.healthCmd, "health-cmd", "", "Command to run to check health")
	fs.DurationVar(&f.healthInterval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	fs.IntVar(&f.healthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	fs.DurationVar(&f.healthTimeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fs.DurationVar(&f.healthStartPeriod, "health-start-period", 0,
		"Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fs.DurationVar(&f.healthStartInterval, "health-start-interval", 0,
		"Time between running the check during the start period (ms|s|m|h) (default 0s)")
	fs.BoolVar(&f.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
	addHealthOnFailureFlag(fs, f)
}

func addResourceFlags(fs *pflag.FlagSet, f *containerFlags) {
	fs.StringVar(&f.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	fs.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&f.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&f.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fs.Int64Var(&f.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fs.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.Var(&f.cpus, "cpus", "Number of CPUs")
	fs.VarP(&f.memory, "memory", "m", "Memory limit")
	fs.Var(&f.memoryReservation, "memory-reservation", "Memory soft limit")
	fs.Var(&f.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fs.Int64Var(&f.swappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	fs.BoolVar(&f.oomKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	fs.IntVar(&f.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringVar(&f.ipc, "ipc", "", "IPC mode to use")
	fs.StringVar(&f.pid, "pid", "", "PID namespace to use")
	fs.Var(&f.shmSize, "shm-size", "Size of /dev/shm")
	fs.StringVar(&f.uts, "uts", "", "UTS namespace to use")
}

// parseContainer turns the flags, the image and the command into the
// create options (without name and platform), checking what docker's CLI
// checks; its errors are docker's.
func parseContainer(fs *pflag.FlagSet, f *containerFlags, image string, args []string) (api.ContainerCreateOptions, error) {
	config, err := f.config(fs, image, args)
	if err != nil {
		return api.ContainerCreateOptions{}, err
	}
	hostConfig, err := f.hostConfig(fs)
	if err != nil {
		return api.ContainerCreateOptions{}, err
	}
	if err := f.ports(config, hostConfig); err != nil {
		return api.ContainerCreateOptions{}, err
	}
	binds, volumes, err := parseVolumes(f.volumes.values)
	if err != nil {
		return api.ContainerCreateOptions{}, err
	}
	config.Volumes, hostConfig.Binds = volumes, binds
	if f.autoRemove && !hostConfig.RestartPolicy.IsNone() {
		return api.ContainerCreateOptions{}, errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	// When allocating stdin in attached mode, close stdin at client
	// disconnect.
	config.StdinOnce = config.OpenStdin && config.AttachStdin
	endpoints, err := f.networks.withAliases(f.netAliases.values).endpoints()
	if err != nil {
		return api.ContainerCreateOptions{}, err
	}
	hostConfig.NetworkMode = container.NetworkMode(f.networks.mode())
	return api.ContainerCreateOptions{Config: config, HostConfig: hostConfig,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: endpoints}}, nil
}

// config is the container's Config.
func (f *containerFlags) config(fs *pflag.FlagSet, image string, args []string) (*container.Config, error) {
	env, err := readKVStrings(f.envFile.values, f.env.values, lookupEnv)
	if err != nil {
		return nil, err
	}
	labels, err := readKVStrings(f.labelFile.values, f.labels.values, nil)
	if err != nil {
		return nil, err
	}
	health, err := f.healthcheck()
	if err != nil {
		return nil, err
	}
	c := &container.Config{Hostname: f.hostname, Domainname: f.domainname, User: f.user, Tty: f.tty,
		OpenStdin: f.stdin, Env: env, Image: image, WorkingDir: f.workdir, Labels: kvMap(labels),
		StopSignal: f.stopSignal, Healthcheck: health}
	if c.Labels, err = f.secrets.label(c.Labels); err != nil {
		return nil, err
	}
	c.AttachStdin = f.attach.has("stdin") || f.stdin
	c.AttachStdout = f.attach.has("stdout") || len(f.attach.values) == 0
	c.AttachStderr = f.attach.has("stderr") || len(f.attach.values) == 0
	if len(args) > 0 {
		c.Cmd = args
	}
	if f.entrypoint != "" {
		c.Entrypoint = []string{f.entrypoint}
	} else if fs.Changed("entrypoint") {
		// --entrypoint= resets the image's.
		c.Entrypoint = []string{""}
	}
	if fs.Changed("stop-timeout") {
		c.StopTimeout = &f.stopTimeout
	}
	if err := f.applyHealthOnFailure(c); err != nil {
		return nil, err
	}
	return c, nil
}

// healthcheck is the --health-* flags' check, nil without them.
func (f *containerFlags) healthcheck() (*container.HealthConfig, error) {
	have := f.healthCmd != "" || f.healthInterval != 0 || f.healthTimeout != 0 || f.healthStartPeriod != 0 ||
		f.healthRetries != 0 || f.healthStartInterval != 0
	if f.noHealthcheck {
		if have {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !have {
		return nil, nil
	}
	for _, d := range []struct {
		name string
		neg  bool
	}{{"interval", f.healthInterval < 0}, {"timeout", f.healthTimeout < 0}, {"retries", f.healthRetries < 0},
		{"start-period", f.healthStartPeriod < 0}, {"start-interval", f.healthStartInterval < 0}} {
		if d.neg {
			return nil, fmt.Errorf("--health-%s cannot be negative", d.name)
		}
	}
	h := &container.HealthConfig{Interval: f.healthInterval, Timeout: f.healthTimeout,
		StartPeriod: f.healthStartPeriod, StartInterval: f.healthStartInterval, Retries: f.healthRetries}
	if f.healthCmd != "" {
		h.Test = []string{"CMD-SHELL", f.healthCmd}
	}
	return h, nil
}

// hostConfig is the container's HostConfig but ports, binds and network
// mode.
func (f *containerFlags) hostConfig(fs *pflag.FlagSet) (*container.HostConfig, error) {
	if err := f.checkModes(); err != nil {
		return nil, err
	}
	restart, err := parseRestartPolicy(f.restart)
	if err != nil {
		return nil, err
	}
	logOpts, err := parseLoggingOpts(f.logDriver, f.logOpt.values)
	if err != nil {
		return nil, err
	}
	secOpts, err := parseSecurityOpts(f.securityOpt.values)
	if err != nil {
		return nil, err
	}
	secOpts, masked, readonly := parseSystemPaths(secOpts)
	storage, err := parseStorageOpts(f.storageOpt.values)
	if err != nil {
		return nil, err
	}
	resources, err := f.resources()
	if err != nil {
		return nil, err
	}
	h := &container.HostConfig{OomScoreAdj: f.oomScoreAdj, AutoRemove: f.autoRemove, Privileged: f.privileged,
		PublishAllPorts: f.publishAll, DNS: f.dnsAddrs(), DNSSearch: orEmpty(f.dnsSearch.values),
		DNSOptions: orEmpty(f.dnsOptions.values), ExtraHosts: f.addHost.values, VolumesFrom: f.volumesFrom.values,
		IpcMode: container.IpcMode(f.ipc), PidMode: container.PidMode(f.pid), UTSMode: container.UTSMode(f.uts),
		UsernsMode: container.UsernsMode(f.userns), CgroupnsMode: container.CgroupnsMode(f.cgroupns),
		CapAdd: f.capAdd.values, CapDrop: f.capDrop.values, GroupAdd: f.groupAdd.values, RestartPolicy: restart,
		SecurityOpt: secOpts, StorageOpt: storage, ReadonlyRootfs: f.readOnly,
		LogConfig: container.LogConfig{Type: f.logDriver, Config: logOpts}, ShmSize: int64(f.shmSize),
		Resources: resources, Tmpfs: parseTmpfs(f.tmpfs.values), Sysctls: f.sysctls.all(), Runtime: f.runtime,
		Mounts: f.mounts.values, MaskedPaths: masked, ReadonlyPaths: readonly, Annotations: f.annotations.all()}
	if fs.Changed("init") {
		h.Init = &f.init
	}
	return h, nil
}

// checkModes checks the namespace modes as docker's CLI does.
func (f *containerFlags) checkModes() error {
	switch {
	case !container.PidMode(f.pid).Valid():
		return errors.New("--pid: invalid PID mode")
	case !container.UTSMode(f.uts).Valid():
		return errors.New("--uts: invalid UTS mode")
	case !container.UsernsMode(f.userns).Valid():
		return errors.New("--userns: invalid USER mode")
	case !container.CgroupnsMode(f.cgroupns).Valid():
		return errors.New("--cgroupns: invalid CGROUP mode")
	}
	return nil
}

// resources is the container's cgroup limits.
func (f *containerFlags) resources() (container.Resources, error) {
	if f.swappiness != -1 && (f.swappiness < 0 || f.swappiness > 100) {
		return container.Resources{}, fmt.Errorf("invalid value: %d. Valid memory swappiness range is 0-100", f.swappiness)
	}
	devices, requests, err := parseDevices(f.devices.values)
	if err != nil {
		return container.Resources{}, err
	}
	return container.Resources{CgroupParent: f.cgroupParent, Memory: int64(f.memory),
		MemoryReservation: int64(f.memoryReservation), MemorySwap: int64(f.memorySwap),
		MemorySwappiness: &f.swappiness, OomKillDisable: &f.oomKillDisable, NanoCPUs: int64(f.cpus),
		CPUShares: f.cpuShares, CPUPeriod: f.cpuPeriod, CPUQuota: f.cpuQuota, CpusetCpus: f.cpusetCpus,
		CpusetMems: f.cpusetMems, PidsLimit: &f.pidsLimit, Ulimits: f.ulimits.list(),
		DeviceCgroupRules: f.deviceCgroupRules.values, Devices: devices, DeviceRequests: requests}, nil
}

// orEmpty is v, or an empty list for nil: docker sends the DNS lists as
// [] rather than null.
func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// kvMap is "k=v" strings as a map; "k" alone is k with an empty value.
func kvMap(kvs []string) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
