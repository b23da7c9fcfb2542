package monitor

import (
	goruntime "runtime"
	"runtime/debug"
	"sync"
	"time"
)

// The memory of a monitor: one runs per container for the container's
// whole life, so what an idle one holds is paid once per container
// (bench/monitor-mem.sh measures it beside conmon's). What was measured
// here, and is therefore done:
//
//   - The monitor drives the runtime as a command (ociRuntime) and links
//     none of it; a binary of its own (cmd/corral-monitor) links nothing
//     else either: no cgo, fewer packages to initialise.
//   - One P (GOMAXPROCS=1) and no memory profiling.
//   - No collection while it starts (GOGC=off in its environment): the
//     garbage of starting is small, and each of the first collections
//     leaves 100-200 KiB of the Go runtime's own metadata touched for good
//     (mark bits, span sets: off the heap, never returned).
//   - Once the container runs, one collection that returns the free memory
//     to the kernel (debug.FreeOSMemory): 0.1 MiB less than none, where
//     three in a row (as before) cost 0.3 MiB more than one. Again after
//     work, once the monitor has been quiet for trimDelay and the work made
//     an estimated trimMin of garbage: twelve rounds of requests left 2.1
//     MiB with it, 3.1 MiB without.
//   - Between trims a small heap goal (gcPercent) keeps garbage from
//     piling up to the default 4 MiB minimum.
//   - No big buffer is kept while idle (the log writer's entry buffer; the
//     control socket is made without net.Listen's 64 KiB read; the mount
//     table is scanned in place).
const (
	gcPercent = 10
	trimDelay = time.Second
	trimMin   = 256 << 10
)

// monitorEnv is the whole environment of a monitor: the Go runtime kept
// small (one P, no collection until it runs), and a PATH for what it runs.
var monitorEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"GOMAXPROCS=1",
	"GOGC=off",
	envReady + "=3",
}

// setupMemory is the monitor's runtime configuration while it starts.
func setupMemory() {
	goruntime.MemProfileRate = 0 // no profiling buckets
	goruntime.GOMAXPROCS(1)
}

// trimmer returns to the kernel what a burst of work left behind, once the
// monitor has been quiet for trimDelay: requests and output poke it with
// an estimate of the garbage they made, a quiet second fires it, and it
// collects when the estimates add up to trimMin (a collection for less
// costs more than it returns: see above). Long-lived connections (wait,
// attach) do not keep it from firing: they are idle while they wait.
type trimmer struct {
	mu      sync.Mutex // guards the fields below
	timer   *time.Timer
	garbage int // estimated bytes made since the last collection
}

// Estimates of the garbage a request makes, for trimmer.poke.
const (
	requestGarbage = 4 << 10  // a request answered in process
	commandGarbage = 32 << 10 // one that runs a runtime command
)

// garbageOf estimates the garbage of a request.
func garbageOf(op string) int {
	switch op {
	case opStart, opSignal, opExec, opStats, opPause, opResume, opPids, opUpdate:
		return commandGarbage
	}
	return requestGarbage
}

// start sets the steady-state heap goal and trims once now.
func (t *trimmer) start() {
	debug.SetGCPercent(gcPercent)
	t.mu.Lock()
	t.garbage = trimMin
	t.timer = time.AfterFunc(0, t.fire)
	t.mu.Unlock()
}

// poke adds garbage bytes to the estimate and pushes the next trim to
// trimDelay from now.
func (t *trimmer) poke(garbage int) {
	t.mu.Lock()
	t.garbage += garbage
	if t.timer != nil {
		t.timer.Reset(trimDelay)
	}
	t.mu.Unlock()
}

func (t *trimmer) fire() {
	t.mu.Lock()
	due := t.garbage >= trimMin
	if due {
		t.garbage = 0
	}
	t.mu.Unlock()
	if due {
		debug.FreeOSMemory()
	}
}
