// Command corral is corral's command line: docker's commands, through the
// daemon's Engine API. The engine itself is corrald, beside it: `corral
// daemon`, `corral runtime`, `corral init` and a corral called through a
// runc-named link hand over to it (execve, same process). Keeping the
// engine's packages out of this binary keeps their start-up (package
// initialisation, page faults of a binary twice the size) out of every
// command: `corral version` took 8.4 ms with them, 5.6 ms without.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/corral-dev/corral/cli"
)

// engineProgram is the engine's binary, found beside this one.
const engineProgram = "corrald"

func main() {
	cli.Version = version
	if strings.HasSuffix(filepath.Base(os.Args[0]), "runc") {
		os.Exit(handOver(append([]string{"runtime"}, os.Args[1:]...)))
	}
	os.Exit(dispatch(os.Args[1:]))
}

func dispatch(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "runtime", "daemon", "init":
		return handOver(args)
	case "--version":
		fmt.Println("corral version", version)
		return 0
	case "help", "-h", "--help":
		usage()
		return 0
	}
	return engineMain(args)
}

// enginePath is corrald's path: beside this binary (symlinks resolved).
func enginePath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(exe), engineProgram), nil
}

// handOver executes corrald with args in this process; it returns only
// when that fails, with 127 as a shell would.
func handOver(args []string) int {
	path, err := enginePath()
	if err == nil {
		err = syscall.Exec(path, append([]string{path}, args...), os.Environ())
	}
	fmt.Fprintf(os.Stderr, "corral %s: cannot run the engine %s: %v (scripts/install.sh installs it beside corral)\n",
		args[0], engineProgram, err)
	return 127
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
              themselves when it is not running); corrald, beside corral
runtime:
  runtime   the OCI runtime (runc-compatible): spec, create, start, run, state,
            kill, delete, list, exec, pause, resume, ps, update, events
            (corrald's; also the corral-runc binary, with runc's argv)
`)
}
