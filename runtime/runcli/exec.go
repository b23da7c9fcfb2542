package runcli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/corral-dev/corral/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

type execFlags struct {
	consoleSocket, cwd, user, process, pidFile string
	env, caps                                  []string
	gids                                       []int
	cgroups                                    []string
	tty, detach, noNewPrivs, ignorePaused      bool
	preserveFDs                                int
}

func execCmd(g *globals) *cobra.Command {
	var f execFlags
	cmd := &cobra.Command{
		Use:   "exec [flags] <container-id> [command [args...]]",
		Short: "run a process in a running container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := f.run(cmd, g, args)
			if err != nil {
				// runc's code for "exec itself failed", apart from the process's own.
				return codeError{255, err}
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	fl := cmd.Flags()
	fl.StringVar(&f.consoleSocket, "console-socket", "", "unix socket that receives the pty master")
	fl.StringVar(&f.cwd, "cwd", "", "working directory in the container")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	fl.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-terminal")
	fl.StringVarP(&f.user, "user", "u", "", "uid[:gid] to run as")
	fl.IntSliceVarP(&f.gids, "additional-gids", "g", nil, "additional gids")
	fl.StringVarP(&f.process, "process", "p", "", "path to a process.json")
	fl.BoolVarP(&f.detach, "detach", "d", false, "do not wait for the process")
	fl.StringVar(&f.pidFile, "pid-file", "", "write the process's pid to this file")
	fl.String("process-label", "", "ignored: SELinux is not supported")
	fl.String("apparmor", "", "ignored: AppArmor is not supported")
	fl.BoolVar(&f.noNewPrivs, "no-new-privs", false, "set no_new_privs for the process")
	fl.StringArrayVarP(&f.caps, "cap", "c", nil, "add a capability")
	fl.IntVar(&f.preserveFDs, "preserve-fds", 0, "pass this many extra descriptors (from 3 up)")
	fl.BoolVar(&f.ignorePaused, "ignore-paused", false, "exec even if the container is paused")
	fl.StringArrayVar(&f.cgroups, "cgroup", nil, "run in this sub-cgroup of the container: PATH, or CONTROLLER[,CONTROLLER]:PATH")
	return cmd
}

func (f *execFlags) run(cmd *cobra.Command, g *globals, args []string) (int, error) {
	rt, err := g.runtime()
	if err != nil {
		return -1, err
	}
	spec, err := rt.Spec(args[0])
	if err != nil {
		return -1, err
	}
	p, err := f.build(spec, args[1:])
	if err != nil {
		return -1, err
	}
	sub, err := parseSubCgroups(f.cgroups)
	if err != nil {
		return -1, err
	}
	return rt.Exec(cmd.Context(), args[0], runtime.ExecOpts{
		Process: p, ConsoleSocket: f.consoleSocket, PidFile: f.pidFile, Detach: f.detach,
		PreserveFDs: f.preserveFDs, IgnorePaused: f.ignorePaused, SubCgroups: sub,
		Stdio: runtime.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr},
	})
}

// parseSubCgroups reads runc's --cgroup values: "PATH" for every
// controller, or "CTRL[,CTRL]:PATH"; the key "" stands for every controller.
func parseSubCgroups(vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range vals {
		ctrls, path, found := strings.Cut(v, ":")
		if !found {
			ctrls, path = "", v
		}
		if path == "" {
			return nil, fmt.Errorf("--cgroup %q: empty path", v)
		}
		for _, c := range strings.Split(ctrls, ",") {
			if _, dup := out[c]; dup {
				return nil, fmt.Errorf("--cgroup %q: controller %q given twice", v, c)
			}
			out[c] = path
		}
	}
	return out, nil
}

// build makes the process from -p, or from the container's own process with
// the flags applied, as runc does.
func (f *execFlags) build(spec *specs.Spec, args []string) (*specs.Process, error) {
	if f.process != "" {
		return readProcess(f.process)
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("exec: no command given (and no --process)")
	}
	p := *spec.Process
	p.Args = args
	p.Terminal = f.tty
	p.ConsoleSize = nil
	p.Env = append(append([]string{}, p.Env...), f.env...)
	if f.cwd != "" {
		p.Cwd = f.cwd
	}
	if f.user != "" {
		u, err := parseUser(f.user)
		if err != nil {
			return nil, err
		}
		p.User = u
	}
	for _, gid := range f.gids {
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(gid))
	}
	if f.noNewPrivs {
		p.NoNewPrivileges = true
	}
	if len(f.caps) > 0 {
		p.Capabilities = addCaps(p.Capabilities, f.caps)
	}
	return &p, nil
}

func readProcess(path string) (*specs.Process, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read process file: %w", err)
	}
	var p specs.Process
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parse process file %s: %w", path, err)
	}
	return &p, nil
}

// parseUser reads "uid" or "uid:gid" (numeric, as runc requires).
func parseUser(s string) (specs.User, error) {
	uidStr, gidStr, hasGid := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(uidStr, 10, 32)
	if err != nil {
		return specs.User{}, fmt.Errorf("--user %q: uid must be a number", s)
	}
	u := specs.User{UID: uint32(uid)}
	if hasGid {
		gid, err := strconv.ParseUint(gidStr, 10, 32)
		if err != nil {
			return specs.User{}, fmt.Errorf("--user %q: gid must be a number", s)
		}
		u.GID = uint32(gid)
	}
	return u, nil
}

func addCaps(c *specs.LinuxCapabilities, add []string) *specs.LinuxCapabilities {
	out := &specs.LinuxCapabilities{}
	if c != nil {
		*out = *c
	}
	out.Bounding = append(append([]string{}, out.Bounding...), add...)
	out.Effective = append(append([]string{}, out.Effective...), add...)
	out.Permitted = append(append([]string{}, out.Permitted...), add...)
	out.Inheritable = append(append([]string{}, out.Inheritable...), add...)
	out.Ambient = append(append([]string{}, out.Ambient...), add...)
	return out
}
