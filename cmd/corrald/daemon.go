package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/apiserver"
	"github.com/corral-dev/corral/daemon"
	"github.com/corral-dev/corral/internal/sigctx"
)

// daemonFlags are `corral daemon`'s flags.
type daemonFlags struct {
	hosts      []string
	dataRoot   string
	configFile string
	group      string
	pidFile    string
	insecure   []string
	debug      bool
	execRoot   string
	initPath   string
	logDriver  string
	bridge     string
	bip        string
	ipv6       bool
	cidr6      string
	pools      []string
	logOpts    []string
}

// daemonMain runs `corral daemon`: the engine serving the Docker Engine
// API on its unix sockets until SIGINT or SIGTERM.
func daemonMain(args []string) int {
	var f daemonFlags
	cmd := &cobra.Command{
		Use:                   "corral daemon [OPTIONS]",
		DisableFlagsInUseLine: true,
		Short:                 "Run the engine: the Docker Engine API on a unix socket",
		Args:                  cobra.NoArgs,
		SilenceErrors:         true,
		SilenceUsage:          true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd)
			if err != nil {
				return err
			}
			return runDaemon(cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.hosts, "host", "H", nil, "Socket to listen on (default "+api.DefaultHost+")")
	fl.StringVar(&f.dataRoot, "data-root", "", "Root directory of the engine's state (default /var/lib/corral)")
	fl.StringVar(&f.configFile, "config-file", daemon.DefaultConfigPath, "Daemon configuration file")
	fl.StringVarP(&f.group, "group", "G", "", "Group that may use the API socket (default: root only)")
	fl.StringVarP(&f.pidFile, "pidfile", "p", "", "Path of the pid file (default "+daemon.DefaultPIDFile+")")
	fl.StringArrayVar(&f.insecure, "insecure-registry", nil, "Registry reached over plain http or unverified TLS")
	fl.BoolVarP(&f.debug, "debug", "D", false, "Log every request")
	fl.StringVar(&f.execRoot, "exec-root", "", "Root directory of the containers' runtime state (default "+daemon.DefaultExecRoot+")")
	fl.StringVar(&f.initPath, "init-path", "", "Path of the init binary of --init")
	fl.StringVarP(&f.bridge, "bridge", "b", "", "Linux bridge of the default network (default corral0)")
	fl.StringVar(&f.bip, "bip", "", "Gateway address and prefix of the default network (default 172.17.0.1/16)")
	fl.BoolVar(&f.ipv6, "ipv6", false, "Give the default network IPv6 too (dual stack)")
	fl.StringVar(&f.cidr6, "fixed-cidr-v6", "", "IPv6 subnet of the default network (default a /64 of the host's ULA pool)")
	fl.StringArrayVar(&f.pools, "default-address-pool", nil, "Pool user networks take subnets from (base=CIDR,size=N)")
	fl.StringVar(&f.logDriver, "log-driver", "", "Default log driver of containers (default json-file)")
	fl.StringArrayVar(&f.logOpts, "log-opt", nil, "Default log driver option of containers (KEY=VALUE)")
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "corral daemon:", err)
		return 1
	}
	return 0
}

// config is the configuration file (and environment) with the flags given
// over it.
func (f *daemonFlags) config(cmd *cobra.Command) (daemon.Config, error) {
	cfg, err := daemon.LoadConfig(f.configFile)
	if err != nil {
		return cfg, err
	}
	cfg = cfg.WithEnv(os.Getenv)
	fl := cmd.Flags()
	if fl.Changed("host") {
		cfg.Hosts = f.hosts
	}
	if fl.Changed("data-root") {
		cfg.DataRoot = f.dataRoot
	}
	if fl.Changed("group") {
		cfg.Group = f.group
	}
	if fl.Changed("pidfile") {
		cfg.PIDFile = f.pidFile
	}
	if fl.Changed("exec-root") {
		cfg.ExecRoot = f.execRoot
	}
	if fl.Changed("init-path") {
		cfg.InitPath = f.initPath
	}
	if fl.Changed("bridge") {
		cfg.Bridge = f.bridge
	}
	if fl.Changed("bip") {
		cfg.BIP = f.bip
	}
	if fl.Changed("ipv6") {
		cfg.IPv6 = f.ipv6
	}
	if fl.Changed("fixed-cidr-v6") {
		cfg.FixedCIDRv6 = f.cidr6
	}
	if fl.Changed("default-address-pool") {
		cfg.DefaultAddressPools = nil
		for _, s := range f.pools {
			p, err := daemon.ParseAddressPool(s)
			if err != nil {
				return cfg, err
			}
			cfg.DefaultAddressPools = append(cfg.DefaultAddressPools, p)
		}
	}
	if err := f.logFlags(&cfg); err != nil {
		return cfg, err
	}
	cfg.Debug = cfg.Debug || f.debug
	cfg.InsecureRegistries = append(cfg.InsecureRegistries, f.insecure...)
	cfg.Version = version
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = []string{api.DefaultHost}
	}
	return cfg, nil
}

// runDaemon opens the engine, listens on its sockets and serves until a
// signal, then removes the sockets and closes the engine.
func runDaemon(cfg daemon.Config) (err error) {
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := sigctx.New()
	defer stop()
	d, err := daemon.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.Close()) }()
	listeners, err := listen(cfg.Hosts, cfg.Group)
	if err != nil {
		return err
	}
	defer closeAll(listeners)
	srv := apiserver.New(apiserver.Config{
		System: d, Images: d.Images(), ImageTransfer: d.Images(), Registry: d.Images(), Builder: d.Builder(),
		Containers: d.Containers(), ContainerViews: d.Containers(), ContainerIO: d.Containers(),
		Exec: d.Containers(), ContainerFiles: d.Containers(), ContainerAdmin: d.Containers(),
		Secrets: d.Secrets(), Volumes: d.Volumes(), Networks: d.Networks(), Version: version, Logger: log,
	})
	log.Info("corral daemon started", "version", version, "pid", os.Getpid(), "data-root", d.Root(), "hosts", cfg.Hosts)
	err = serveAll(ctx, srv, listeners)
	var sig sigctx.Error
	if errors.As(context.Cause(ctx), &sig) {
		log.Info("corral daemon stopping", "signal", sig.Signal.String())
	}
	return err
}

// listen opens the API's unix sockets.
func listen(hosts []string, group string) ([]net.Listener, error) {
	var ls []net.Listener
	for _, h := range hosts {
		path, ok := strings.CutPrefix(h, "unix://")
		if !ok || path == "" {
			closeAll(ls)
			return nil, fmt.Errorf("host %q: only unix:///path sockets are supported", h)
		}
		l, err := apiserver.ListenUnix(path, group)
		if err != nil {
			closeAll(ls)
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		_ = l.Close()
	}
}

// serveAll serves on every listener until ctx ends or one fails.
func serveAll(ctx context.Context, srv *apiserver.Server, ls []net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(ls))
	for _, l := range ls {
		go func() {
			err := srv.Serve(ctx, l)
			cancel()
			errs <- err
		}()
	}
	var all []error
	for range ls {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// logFlags puts --log-driver and --log-opt over the file's log-driver and
// log-opts, as dockerd does (a flag and the file naming the same option
// is an error there; here the flag wins).
func (f *daemonFlags) logFlags(cfg *daemon.Config) error {
	if f.logDriver != "" {
		cfg.LogDriver = f.logDriver
	}
	for _, o := range f.logOpts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return fmt.Errorf("invalid --log-opt %q: want KEY=VALUE", o)
		}
		if cfg.LogOpts == nil {
			cfg.LogOpts = map[string]string{}
		}
		cfg.LogOpts[k] = v
	}
	return nil
}
