package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// ContainerAPI is the engine's calls that list, inspect, change and remove
// containers, named as the docker client names them; client.Client
// implements it. Errors carry errdefs classes and the text the user sees
// ("Error response from daemon: No such container: x").
type ContainerAPI interface {
	ContainerList(ctx context.Context, opts api.ContainerListOptions) ([]container.Summary, error)
	// ContainerInspectWithRaw answers the container and the JSON the
	// daemon sent, which inspect prints as it is.
	ContainerInspectWithRaw(ctx context.Context, name string, size bool) (container.InspectResponse, []byte, error)
	// ContainerStop and ContainerRestart succeed on a container already
	// stopped.
	ContainerStop(ctx context.Context, name string, opts api.ContainerStopOptions) error
	ContainerRestart(ctx context.Context, name string, opts api.ContainerStopOptions) error
	ContainerKill(ctx context.Context, name, signal string) error
	ContainerRemove(ctx context.Context, name string, opts api.ContainerRemoveOptions) error
	ContainerRename(ctx context.Context, name, newName string) error
	ContainerPause(ctx context.Context, name string) error
	ContainerUnpause(ctx context.Context, name string) error
	ContainerTop(ctx context.Context, name string, psArgs []string) (container.TopResponse, error)
	// ContainerStats answers a stream of JSON container.StatsResponse:
	// one a second with stream, else one.
	ContainerStats(ctx context.Context, name string, stream bool) (io.ReadCloser, error)
	ContainerUpdate(ctx context.Context, name string, update container.UpdateConfig) (container.UpdateResponse, error)
	ContainersPrune(ctx context.Context, filters api.Filters) (container.PruneReport, error)
}

// containerAPI is the engine's client as a ContainerAPI.
func (c *cli) containerAPI(ctx context.Context) (ContainerAPI, error) {
	client, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	ca, ok := client.(ContainerAPI)
	if !ok {
		return nil, fmt.Errorf("the engine's client (%T) has no container calls", client)
	}
	return ca, nil
}

// manageCommands are the commands that list, inspect, change and remove
// containers that docker has both at the top level and under "container".
func (c *cli) manageCommands() []named {
	return []named{
		{"stop", c.stopCommand}, {"kill", c.killCommand}, {"restart", c.restartCommand},
		{"rm remove", c.rmCommand}, {"rename", c.renameCommand}, {"pause", c.pauseCommand},
		{"unpause", c.unpauseCommand}, {"top", c.topCommand}, {"port", c.portCommand},
		{"stats", c.statsCommand}, {"update", c.updateCommand},
	}
}

// containerGroupCommands are the ones docker has only under "container":
// ls (ps's other name), inspect (the top-level one inspects any object)
// and prune.
func (c *cli) containerGroupCommands() []*cobra.Command {
	ls := c.psCommand()
	ls.Use = "ls [OPTIONS]"
	ls.Aliases = []string{"ps", "list"}
	return []*cobra.Command{ls, c.containerInspectCommand(), c.containerPruneCommand()}
}

// aliases is the "aliases" annotation of a command docker has at the top
// level and under "container".
func aliases(name string) map[string]string {
	return map[string]string{"aliases": "corral container " + name + ", corral " + name}
}

// parallel runs op on each name, up to 50 at a time as docker does, and
// calls done with each result in the order of names, as soon as it and
// those before it are known.
func parallel(ctx context.Context, names []string, op func(context.Context, string) error, done func(name string, err error)) {
	results := make([]chan error, len(names))
	sem := make(chan struct{}, 50)
	for i := range names {
		results[i] = make(chan error, 1)
	}
	go func() {
		for i, name := range names {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				results[i] <- op(ctx, name)
			}()
		}
	}()
	for i, name := range names {
		done(name, <-results[i])
	}
}

// eachContainer runs op on every container, printing the name of each that
// succeeds; the failures are the error, after all ran.
func (c *cli) eachContainer(ctx context.Context, names []string, op func(ContainerAPI, context.Context, string) error) error {
	ca, err := c.containerAPI(ctx)
	if err != nil {
		return err
	}
	var errs []error
	parallel(ctx, names, func(ctx context.Context, name string) error { return op(ca, ctx, name) },
		func(name string, err error) {
			if err != nil {
				errs = append(errs, err)
				return
			}
			fmt.Fprintln(c.out, name)
		})
	return errors.Join(errs...)
}

type stopOptions struct {
	signal  string
	timeout int
}

// stopFlags are the flags of stop and restart; changed tells whether a
// timeout was given.
func stopFlags(cmd *cobra.Command, o *stopOptions) {
	f := cmd.Flags()
	f.StringVarP(&o.signal, "signal", "s", "", "Signal to send to the container")
	f.IntVarP(&o.timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	f.IntVar(&o.timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	_ = f.MarkDeprecated("time", "use --timeout instead")
}

// stopAPIOptions checks the flags and makes the API options.
func stopAPIOptions(cmd *cobra.Command, o stopOptions) (api.ContainerStopOptions, error) {
	f := cmd.Flags()
	if f.Changed("time") && f.Changed("timeout") {
		return api.ContainerStopOptions{}, errors.New("conflicting options: cannot specify both --timeout and --time")
	}
	opts := api.ContainerStopOptions{Signal: o.signal}
	if f.Changed("time") || f.Changed("timeout") {
		t := o.timeout
		opts.Timeout = &t
	}
	return opts, nil
}

func (c *cli) stopCommand() *cobra.Command {
	var o stopOptions
	cmd := &cobra.Command{
		Use:         "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short:       "Stop one or more running containers",
		Args:        minArgs(1),
		Annotations: aliases("stop"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := stopAPIOptions(cmd, o)
			if err != nil {
				return err
			}
			return c.eachContainer(cmd.Context(), args, func(ca ContainerAPI, ctx context.Context, name string) error {
				return ca.ContainerStop(ctx, name, opts)
			})
		},
	}
	stopFlags(cmd, &o)
	return cmd
}

func (c *cli) restartCommand() *cobra.Command {
	var o stopOptions
	cmd := &cobra.Command{
		Use:         "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short:       "Restart one or more containers",
		Args:        minArgs(1),
		Annotations: aliases("restart"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := stopAPIOptions(cmd, o)
			if err != nil {
				return err
			}
			return c.restart(cmd.Context(), args, opts)
		},
	}
	stopFlags(cmd, &o)
	return cmd
}

// restart restarts the containers one after the other, as docker does.
func (c *cli) restart(ctx context.Context, names []string, opts api.ContainerStopOptions) error {
	ca, err := c.containerAPI(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if err := ca.ContainerRestart(ctx, name, opts); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(c.out, name)
	}
	return errors.Join(errs...)
}

func (c *cli) killCommand() *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:         "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short:       "Kill one or more running containers",
		Args:        minArgs(1),
		Annotations: aliases("kill"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd.Context(), args, func(ca ContainerAPI, ctx context.Context, name string) error {
				return ca.ContainerKill(ctx, name, signal)
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func (c *cli) pauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:         "pause CONTAINER [CONTAINER...]",
		Short:       "Pause all processes within one or more containers",
		Args:        minArgs(1),
		Annotations: aliases("pause"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd.Context(), args, ContainerAPI.ContainerPause)
		},
	}
}

func (c *cli) unpauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:         "unpause CONTAINER [CONTAINER...]",
		Short:       "Unpause all processes within one or more containers",
		Args:        minArgs(1),
		Annotations: aliases("unpause"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd.Context(), args, ContainerAPI.ContainerUnpause)
		},
	}
}

func (c *cli) rmCommand() *cobra.Command {
	var opts api.ContainerRemoveOptions
	cmd := &cobra.Command{
		Use:         "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases:     []string{"remove"},
		Short:       "Remove one or more containers",
		Args:        minArgs(1),
		Annotations: map[string]string{"aliases": "corral container rm, corral container remove, corral rm"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.rm(cmd.Context(), args, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.RemoveVolumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	f.BoolVarP(&opts.RemoveLinks, "link", "l", false, "Remove the specified link")
	f.BoolVarP(&opts.Force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	return cmd
}

// rm removes the containers; with --force, one that does not exist is
// reported on stderr without failing the command, as docker does.
func (c *cli) rm(ctx context.Context, names []string, opts api.ContainerRemoveOptions) error {
	ca, err := c.containerAPI(ctx)
	if err != nil {
		return err
	}
	remove := func(ctx context.Context, name string) error {
		name = strings.Trim(name, "/")
		if name == "" {
			return errors.New("container name cannot be empty")
		}
		return ca.ContainerRemove(ctx, name, opts)
	}
	var errs []error
	parallel(ctx, names, remove, func(name string, err error) {
		switch {
		case err == nil:
			fmt.Fprintln(c.out, name)
		case opts.Force && errdefs.IsNotFound(err):
			fmt.Fprintln(c.err, err)
		default:
			errs = append(errs, err)
		}
	})
	return errors.Join(errs...)
}

func (c *cli) renameCommand() *cobra.Command {
	return &cobra.Command{
		Use:         "rename CONTAINER NEW_NAME",
		Short:       "Rename a container",
		Args:        exactArgs(2),
		Annotations: aliases("rename"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.rename(cmd.Context(), args[0], args[1])
		},
	}
}

func (c *cli) rename(ctx context.Context, oldName, newName string) error {
	oldName, newName = strings.TrimSpace(oldName), strings.TrimSpace(newName)
	if oldName == "" || newName == "" {
		return errors.New("Error: Neither old nor new names may be empty")
	}
	ca, err := c.containerAPI(ctx)
	if err != nil {
		return err
	}
	if err := ca.ContainerRename(ctx, oldName, newName); err != nil {
		fmt.Fprintln(c.err, err)
		return fmt.Errorf("Error: failed to rename container named %s", oldName)
	}
	return nil
}

type updateOptions struct {
	blkioWeight                                               uint16
	cpuPeriod, cpuQuota, cpuRTPeriod, cpuRTRuntime, cpuShares int64
	pidsLimit                                                 int64
	cpusetCPUs, cpusetMems, restart                           string
	memory, memoryReservation, kernelMemory                   memBytes
	memorySwap                                                memSwapBytes
	cpus                                                      nanoCPUs
}

func (c *cli) updateCommand() *cobra.Command {
	var o updateOptions
	cmd := &cobra.Command{
		Use:         "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short:       "Update configuration of one or more containers",
		Args:        minArgs(1),
		Annotations: aliases("update"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			return c.update(cmd.Context(), args, o)
		},
	}
	f := cmd.Flags()
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	f.Int64Var(&o.cpuRTPeriod, "cpu-rt-period", 0, "Limit the CPU real-time period in microseconds")
	f.Int64Var(&o.cpuRTRuntime, "cpu-rt-runtime", 0, "Limit the CPU real-time runtime in microseconds")
	f.StringVar(&o.cpusetCPUs, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.VarP(&o.memory, "memory", "m", "Memory limit")
	f.Var(&o.memoryReservation, "memory-reservation", "Memory soft limit")
	f.Var(&o.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
	f.Var(&o.kernelMemory, "kernel-memory", "Kernel memory limit (deprecated)")
	_ = f.MarkHidden("kernel-memory")
	f.StringVar(&o.restart, "restart", "", "Restart policy to apply when a container exits")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.Var(&o.cpus, "cpus", "Number of CPUs")
	return cmd
}

// updateConfig is the body of the update calls.
func (o updateOptions) updateConfig() (container.UpdateConfig, error) {
	policy, err := parseRestartPolicy(o.restart)
	if err != nil {
		return container.UpdateConfig{}, err
	}
	r := container.Resources{
		BlkioWeight: o.blkioWeight, CpusetCpus: o.cpusetCPUs, CpusetMems: o.cpusetMems, CPUShares: o.cpuShares,
		Memory: int64(o.memory), MemoryReservation: int64(o.memoryReservation), MemorySwap: int64(o.memorySwap),
		CPUPeriod: o.cpuPeriod, CPUQuota: o.cpuQuota, CPURealtimePeriod: o.cpuRTPeriod,
		CPURealtimeRuntime: o.cpuRTRuntime, NanoCPUs: int64(o.cpus),
	}
	if o.pidsLimit != 0 {
		limit := o.pidsLimit
		r.PidsLimit = &limit
	}
	return container.UpdateConfig{Resources: r, RestartPolicy: policy}, nil
}

// update updates each container, printing its name, then the daemon's
// warnings; the failures are the error, one a line.
func (c *cli) update(ctx context.Context, names []string, o updateOptions) error {
	upd, err := o.updateConfig()
	if err != nil {
		return err
	}
	ca, err := c.containerAPI(ctx)
	if err != nil {
		return err
	}
	var warnings, errs []string
	for _, name := range names {
		resp, err := ca.ContainerUpdate(ctx, name, upd)
		if err != nil {
			errs = append(errs, err.Error())
		} else {
			fmt.Fprintln(c.out, name)
		}
		warnings = append(warnings, resp.Warnings...)
	}
	if len(warnings) > 0 {
		fmt.Fprintln(c.out, strings.Join(warnings, "\n"))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// parseRestartPolicy reads --restart: "" (unchanged), "no", "always",
// "unless-stopped" or "on-failure[:N]"; the daemon checks the name.
func parseRestartPolicy(s string) (container.RestartPolicy, error) {
	if s == "" {
		return container.RestartPolicy{}, nil
	}
	name, count, hasCount := strings.Cut(s, ":")
	if hasCount && name == "" {
		return container.RestartPolicy{}, errors.New("invalid restart policy format: no policy provided before colon")
	}
	p := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return container.RestartPolicy{}, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	return p, nil
}

// memBytes is a flag of a size in bytes ("512m", "1g").
type memBytes int64

func (m *memBytes) Set(v string) error {
	n, err := units.RAMInBytes(v)
	*m = memBytes(n)
	return err
}

// String is "0" when unset, so help shows no default, as docker's.
func (m *memBytes) String() string {
	if *m == 0 {
		return "0"
	}
	return units.BytesSize(float64(*m))
}

func (m *memBytes) Type() string { return "bytes" }

// memSwapBytes is memBytes where -1 means unlimited.
type memSwapBytes int64

func (m *memSwapBytes) Set(v string) error {
	if v == "-1" {
		*m = -1
		return nil
	}
	n, err := units.RAMInBytes(v)
	*m = memSwapBytes(n)
	return err
}

func (m *memSwapBytes) String() string { b := memBytes(*m); return b.String() }

func (m *memSwapBytes) Type() string { return "bytes" }

// nanoCPUs is a flag of a number of CPUs ("1.5") held in billionths.
type nanoCPUs int64

func (n *nanoCPUs) Set(v string) error {
	r, ok := new(big.Rat).SetString(v)
	if !ok {
		return fmt.Errorf("failed to parse %v as a rational number", v)
	}
	r.Mul(r, big.NewRat(1e9, 1))
	if !r.IsInt() {
		return errors.New("value is too precise")
	}
	*n = nanoCPUs(r.Num().Int64())
	return nil
}

func (n *nanoCPUs) String() string {
	if *n == 0 {
		return ""
	}
	return big.NewRat(int64(*n), 1e9).FloatString(3)
}

func (n *nanoCPUs) Type() string { return "decimal" }
