package runcli

import (
	"context"
	"strconv"
	"strings"

	"github.com/corral-dev/corral/runtime"
	"golang.org/x/sys/unix"
)

// Every runtime command is a process of its own, and building the whole
// command line (every cobra command and flag set, the completion and help
// commands) is a good part of a short one's time. fastPath runs the plain
// forms of the commands that engines run on every container, directly:
//
//	[--root DIR] [--log FILE] [--log-format text|json] [--rootless V] CMD
//
// with CMD one of
//
//	create [--bundle|-b DIR] [--pid-file FILE] [--console-socket SOCK]
//	       [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID
//	start ID
//	delete [--force|-f] ID
//	pause ID
//	resume ID
//
// (each flag with a value also as --flag=value), flags before the ID.
// Anything else goes to cobra. create, start and delete run as their cobra
// commands do, from the same setup to the same error report. pause and
// resume (containerd's) skip even the setup of the log; any failure of
// theirs is left to runcli.Main, which reports errors as it always does
// after trying the operation once more (a failed freeze has thawed the
// container again, and a failed thaw left it paused, so the retry starts
// from where the first attempt did).
func fastPath(args []string) (code int, handled bool) {
	c, ok := parseFast(args)
	if !ok {
		return 0, false
	}
	if c.op == "pause" || c.op == "resume" {
		return 0, c.pauseResume()
	}
	err := c.g.setup()
	if err == nil {
		err = c.run()
	}
	return c.g.finish(err, args), true
}

// fastCmd is a command line fastPath runs.
type fastCmd struct {
	g      globals
	op, id string
	create createFlags // create's flags
	force  bool        // delete's --force
}

// run runs create, start or delete as its cobra command does.
func (c *fastCmd) run() error {
	ctx := context.Background()
	if c.op == "create" {
		rt, o, err := c.create.prepare(&c.g)
		if err != nil {
			return err
		}
		return rt.Create(ctx, c.id, o)
	}
	rt, err := c.g.runtime()
	if err != nil {
		return err
	}
	if c.op == "start" {
		return rt.Start(ctx, c.id)
	}
	return rt.Delete(ctx, c.id, c.force)
}

// pauseResume runs pause or resume; false when it failed.
func (c *fastCmd) pauseResume() bool {
	if c.g.log != "" {
		// As runcli's setup: the log file exists once the command ran. A
		// plain descriptor, as the rest of the path uses: the first *os.File
		// would set up the Go runtime's poller.
		fd, err := unix.Open(c.g.log, unix.O_CREAT|unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return false
		}
		unix.Close(fd)
	}
	rt, err := runtime.New(c.g.root)
	if err != nil {
		return false
	}
	if c.op == "pause" {
		return rt.Pause(c.id) == nil
	}
	return rt.Resume(c.id) == nil
}

// parseFast splits a command line of the plain forms above; ok is false for
// anything else (other flags or commands, flags after the ID, a second ID,
// an ID that looks like a flag, a log format setup would refuse).
func parseFast(args []string) (c fastCmd, ok bool) {
	c.g = globals{root: runtime.DefaultRoot, logFormat: "text", rootless: "auto"}
	c.create.bundle = "."
	if args, ok = c.parseGlobals(args); !ok || len(args) == 0 {
		return c, false
	}
	c.op, args = args[0], args[1:]
	switch c.op {
	case "pause", "resume", "start":
	case "delete":
		if len(args) > 0 && (args[0] == "--force" || args[0] == "-f") {
			c.force, args = true, args[1:]
		}
	case "create":
		if args, ok = c.parseCreate(args); !ok {
			return c, false
		}
	default:
		return c, false
	}
	if len(args) != 1 || strings.HasPrefix(args[0], "-") || c.g.logFormat != "text" && c.g.logFormat != "json" {
		return c, false
	}
	c.id = args[0]
	return c, true
}

// parseGlobals takes the global flags fastPath knows off the front of args.
func (c *fastCmd) parseGlobals(args []string) (rest []string, ok bool) {
	for len(args) > 0 && strings.HasPrefix(args[0], "--") {
		name, val, more, ok := flagValue(args)
		if !ok {
			return nil, false
		}
		switch name {
		case "--root":
			c.g.root = val
		case "--log":
			c.g.log = val
		case "--log-format":
			c.g.logFormat = val
		case "--rootless":
			c.g.rootless = val
		default:
			return nil, false
		}
		args = more
	}
	return args, true
}

// parseCreate takes create's flags off the front of args.
func (c *fastCmd) parseCreate(args []string) (rest []string, ok bool) {
	f := &c.create
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "--no-pivot":
			f.noPivot, args = true, args[1:]
			continue
		case "--no-new-keyring":
			f.noNewKeyring, args = true, args[1:]
			continue
		}
		name, val, more, ok := flagValue(args)
		if !ok {
			return nil, false
		}
		switch name {
		case "--bundle", "-b":
			f.bundle = val
		case "--pid-file":
			f.pidFile = val
		case "--console-socket":
			f.consoleSocket = val
		case "--preserve-fds":
			// Plain decimal only: the flag package also reads 0x10 and
			// 010 (octal), which are left to it.
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || strconv.Itoa(n) != val {
				return nil, false
			}
			f.preserveFDs = n
		default:
			return nil, false
		}
		args = more
	}
	return args, true
}

// flagValue splits the flag at args[0], "--name=value" or "--name value",
// and returns what follows it; ok is false when the value is missing.
func flagValue(args []string) (name, val string, rest []string, ok bool) {
	name, val, hasVal := strings.Cut(args[0], "=")
	if hasVal {
		return name, val, args[1:], true
	}
	if len(args) < 2 {
		return "", "", nil, false
	}
	return name, args[1], args[2:], true
}
