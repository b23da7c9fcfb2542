//go:debug netdns=go

// Command corral-runc is corral's OCI runtime on its own: runc's command
// line (runtime/runcli) and the init that runs inside the container's
// namespaces, and nothing of the engine. Every runtime command is a process
// of its own and a Go binary pays at start-up for every package linked into
// it: with the engine's packages (registry, image, API server) the corral
// binary starts 2.5 ms of package init instead of 0.6 ms, which cost run,
// exec, pause and resume their lead over crun (bench/runtime-ops.sh).
// dockerd, containerd and the runc bats tests call this binary; `corral
// runtime` in the full binary answers the same commands. `corral-runc
// standby` is the runtime a spare monitor starts ahead of a create
// (runcli.Standby).
package main

import (
	"os"
	goruntime "runtime"

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
	if len(os.Args) == 2 && os.Args[1] == "standby" {
		os.Exit(runcli.Standby())
	}
	os.Exit(runcli.Main(os.Args[1:]))
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"
