//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command corral-init is the init that `corral run --init` puts at PID 1 of
// a container: it runs the command after "--", forwards signals to it,
// reaps zombies and exits with the command's status. The logic is in
// package initproc; build it static (CGO_ENABLED=0), since the container's
// rootfs may have no C library. The go:debug lines keep GOMAXPROCS from
// following the container's CPU quota and, above all, the runtime from
// polling the cgroup files for the life of the container.
package main

import (
	"os"

	"github.com/corral-dev/corral/initproc"
)

func main() {
	os.Exit(initproc.Main(os.Args[1:]))
}
