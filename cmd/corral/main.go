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

	"github.com/corral-dev/corral/monitor"
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
	if len(os.Args) > 1 && os.Args[1] == "init" {
		nsinit.Main()
		return
	}
	if strings.HasSuffix(filepath.Base(os.Args[0]), "runc") {
		os.Exit(runtimeMain(os.Args[1:]))
	}
	os.Exit(dispatch(os.Args[1:]))
}

// runtimeMain runs the runtime's command line, the plain pause and resume
// on a fast path.
func runtimeMain(args []string) int {
	if fastPath(args) {
		return 0
	}
	return runcli.Main(args)
}

func dispatch(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "runtime":
		return runtimeMain(args[1:])
	case "monitor": // hidden: the daemon starts it (monitor.Start)
		return monitor.Main(args[1:])
	case "daemon":
		return daemonMain(args[1:])
	case "version", "--version":
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
	fmt.Fprint(os.Stderr, `usage: corral <command>

commands:
  runtime   the OCI runtime (runc-compatible): spec, create, start, run, state,
            kill, delete, list, exec
  version   print the version
`)
}
