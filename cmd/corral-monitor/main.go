// Command corral-monitor is the per-container monitor on its own (package
// monitor), and nothing else: one runs per container for as long as the
// container does, so what an idle one holds is paid once per container.
// It links neither the runtime (it runs corral-runc, as conmon runs runc)
// nor the engine, needs no cgo, and idles at about a third of the memory
// of `corral monitor` (bench/monitor-mem.sh). monitor.Start runs it when it
// is installed beside the corral binary:
//
//	corral-monitor monitor [--fork] DIR
package main

import (
	"fmt"
	"os"

	"github.com/corral-dev/corral/monitor"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "monitor" {
		os.Exit(monitor.Main(os.Args[2:]))
	}
	fmt.Fprintln(os.Stderr, "usage: corral-monitor monitor [--fork] DIR (monitor.Start runs it)")
	os.Exit(2)
}
