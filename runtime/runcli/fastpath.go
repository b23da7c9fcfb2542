package runcli

import (
	"strings"

	"github.com/corral-dev/corral/runtime"
	"golang.org/x/sys/unix"
)

// Pause and resume are short enough that building the runtime's whole
// command line (every cobra command and flag set, the completion and help
// commands) is a good part of their time: containerd pauses and resumes
// through it. fastPath runs the plain forms of both,
//
//	[--root DIR] [--log FILE] [--log-format text|json] [--rootless V] pause|resume ID
//
// (each flag also as --flag=value), directly. Anything else, and any
// failure, is left to runcli.Main: it reports errors as it always does,
// after trying the operation once more (a failed freeze has thawed the
// container again, and a failed thaw left it paused, so the retry starts
// from where the first attempt did).
func fastPath(args []string) (handled bool) {
	g, op, id, ok := parseFast(args)
	if !ok {
		return false
	}
	if g.log != "" {
		// As runcli's setup: the log file exists once the command ran. A
		// plain descriptor, as the rest of the path uses: the first *os.File
		// would set up the Go runtime's poller.
		fd, err := unix.Open(g.log, unix.O_CREAT|unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return false
		}
		unix.Close(fd)
	}
	rt, err := runtime.New(g.root)
	if err != nil {
		return false
	}
	if op == "pause" {
		err = rt.Pause(id)
	} else {
		err = rt.Resume(id)
	}
	return err == nil
}

// fastGlobals are the global flags fastPath understands.
type fastGlobals struct {
	root, log, logFormat string
}

// parseFast splits the plain form of pause and resume; ok is false for
// anything else (other flags or commands, flags after the command, a
// second argument, an ID that looks like a flag).
func parseFast(args []string) (g fastGlobals, op, id string, ok bool) {
	g = fastGlobals{root: runtime.DefaultRoot, logFormat: "text"}
	for len(args) > 0 && strings.HasPrefix(args[0], "--") {
		name, val, hasVal := strings.Cut(args[0], "=")
		if !hasVal {
			if len(args) < 2 {
				return g, "", "", false
			}
			val, args = args[1], args[1:]
		}
		args = args[1:]
		switch name {
		case "--root":
			g.root = val
		case "--log":
			g.log = val
		case "--log-format":
			g.logFormat = val
		case "--rootless":
		default:
			return g, "", "", false
		}
	}
	if len(args) != 2 || args[0] != "pause" && args[0] != "resume" ||
		strings.HasPrefix(args[1], "-") || g.logFormat != "text" && g.logFormat != "json" {
		return g, "", "", false
	}
	return g, args[0], args[1], true
}
