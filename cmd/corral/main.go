// Command corral is the container engine's single binary. Hidden
// subcommands that must run before anything else (init, which runs inside
// the container's namespaces) are dispatched here before flag parsing; the
// runtime answers as `corral runtime ...` or, when called through a link
// whose name ends in "runc" (corral-runc), with runc's own argv.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/corral-dev/corral/cli"
	_ "github.com/corral-dev/corral/runtime/nsenter" // C constructor that joins namespaces
	"github.com/corral-dev/corral/runtime/nsinit"
	"github.com/corral-dev/corral/runtime/runcli"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// Credentials, capabilities and some namespaces are per thread:
		// init sets them up on the main thread, which then calls execve.
		goruntime.GOMAXPROCS(1)
		goruntime.LockOSThread()
	}
}

func main() {
	runcli.Version = version
	cli.Version = version
	if len(os.Args) > 1 && os.Args[1] == "init" {
		nsinit.Main()
		return
	}
	if strings.HasSuffix(filepath.Base(os.Args[0]), "runc") {
		os.Exit(runcli.Main(os.Args[1:]))
	}
	os.Exit(dispatch(os.Args[1:]))
}

func dispatch(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "runtime":
		return runcli.Main(args[1:])
	case "daemon":
		return daemonMain(args[1:])
	case "--version":
		fmt.Println("corral version", version)
		return 0
	case "help", "-h", "--help":
		usage()
		return 0
	}
	return engineMain(args)
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func usage() {
	fmt.Fprint(os.Stderr, `usage: corral [-H HOST] [--data-root DIR] <command>

docker's commands, flags and output, through the daemon's Engine API:
  containers: run, create, start, stop, kill, restart, rm, ps, inspect, logs,
              exec, attach, wait, top, stats, cp, rename, pause, unpause, port,
              diff, commit, export, update, container (ls, prune, ...)
  images:     pull, push, images, tag, rmi, load, save, import, login, logout,
              image (ls, inspect, history, rm, prune, ...)
  engine:     info, version, events, system (df, info, events)
  daemon      serve the Docker Engine API (the commands above start it
              themselves when it is not running)
runtime:
  runtime   the OCI runtime (runc-compatible): spec, create, start, run, state,
            kill, delete, list, exec, pause, resume, ps, update, events
            (also the corral-runc binary, with runc's argv)
`)
}
