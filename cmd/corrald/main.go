// Command corrald is the engine's binary: `corrald daemon` serves the
// Docker Engine API, `corrald runtime ...` is the OCI runtime (also with
// runc's own argv when called through a link whose name ends in "runc"),
// and `corrald init` is the container's init, dispatched before anything
// else. The corral command line hands `corral daemon`, `corral runtime`
// and `corral init` over to it, so that its own start stays small.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

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
		fmt.Println("corrald version", version)
		return 0
	case "help", "-h", "--help":
		usage()
		return 0
	}
	fmt.Fprintf(os.Stderr, "corrald: unknown command %q (docker's commands are corral's)\n", args[0])
	usage()
	return 2
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func usage() {
	fmt.Fprint(os.Stderr, `usage: corrald <command>

  daemon    serve the Docker Engine API (corral's commands start it
            themselves when it is not running)
  runtime   the OCI runtime (runc-compatible): spec, create, start, run, state,
            kill, delete, list, exec, pause, resume, ps, update, events
            (also through a link whose name ends in runc, with runc's argv)
`)
}
