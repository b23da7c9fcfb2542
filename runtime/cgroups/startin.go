package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Starting a process inside the cgroup rather than joining it afterwards.
//
// Join writes the process's pid to cgroup.procs on every hierarchy. Each such
// write takes the kernel's global cgroup_threadgroup_rwsem for writing, and
// the first writer after a quiet spell waits for an RCU grace period: several
// milliseconds, tens on a busy host, most of a container's start. Two ways in
// take no such lock: on a v1 hierarchy, a thread that moves only itself
// (writing "0" to the tasks file) skips it, and a process inherits the
// cgroups of the thread that forks it; on the unified hierarchy,
// clone3(CLONE_INTO_CGROUP) places the new process at birth. EnterThread
// uses both.

// ThreadIn is an OS thread on its way into the cgroup, to fork a process
// there. Its owner calls Start once, or Release.
type ThreadIn struct {
	entered chan bool
	start   chan func(unifiedFD int) error
	result  chan error
	used    atomic.Bool // Start or Release was called
}

// EnterThread moves a fresh OS thread into the cgroup on every v1
// hierarchy, in the background, and returns at once: the caller prepares
// the process meanwhile. Start forks it on that thread, which then leaves
// the cgroup again and is discarded. For the unified hierarchy, Start's
// start receives a descriptor of the cgroup's directory to pass to clone3
// as CLONE_INTO_CGROUP's target.
func (m *Manager) EnterThread() *ThreadIn {
	t := &ThreadIn{entered: make(chan bool, 1), start: make(chan func(int) error, 1), result: make(chan error, 1)}
	go func() {
		// Never unlocked: the goroutine ends locked and Go discards the
		// thread, with whatever moving in and out left on it (a cpuset's
		// CPU affinity, a move back that failed).
		runtime.LockOSThread()
		m.runThread(t)
	}()
	return t
}

// Start waits until the thread is in, then calls start on it: start must
// fork exactly one process from the calling thread (exec.Cmd.Start does),
// which so begins its life in the cgroup. It returns once the thread is out
// of the cgroup again. placed is false, with start not called, when the
// thread could not get in (a frozen cgroup, the caller's own cgroup not
// visible on some hierarchy, a write refused): the caller then starts the
// process itself and uses Join, which reports the real error if any.
func (t *ThreadIn) Start(start func(unifiedFD int) error) (placed bool, err error) {
	if t.used.Swap(true) {
		return false, errors.New("thread already used")
	}
	if !<-t.entered {
		return false, nil
	}
	t.start <- start
	return true, <-t.result
}

// Release lets the thread go without forking anything; it leaves the
// cgroup in the background. After Start, or a first Release, it does
// nothing.
func (t *ThreadIn) Release() {
	if t.used.Swap(true) {
		return
	}
	if <-t.entered {
		t.start <- nil
	}
}

// runThread is the locked thread's life: in, fork, out.
func (m *Manager) runThread(t *ThreadIn) {
	unified, moves, err := m.threadPlan()
	if err != nil {
		t.entered <- false
		return
	}
	if unified >= 0 {
		defer unix.Close(unified)
	}
	var entered []threadMove
	for _, mv := range moves {
		if err := writeFile(filepath.Join(mv.dir, "tasks"), "0"); err != nil {
			leave(entered)
			t.entered <- false
			return
		}
		entered = append(entered, mv)
	}
	t.entered <- true
	start := <-t.start
	if start == nil {
		leave(entered)
		return
	}
	err = start(unified)
	leave(entered)
	t.result <- err
}

// threadPlan opens the unified directory, if any, and lists the v1 moves
// of the calling thread; it fails where the thread must not move.
func (m *Manager) threadPlan() (unified int, moves []threadMove, err error) {
	if !m.thawed() {
		return -1, nil, errors.New("the cgroup is frozen")
	}
	hs := m.hs
	if hs == nil {
		if hs, err = readHierarchies(); err != nil {
			return -1, nil, err
		}
	}
	if moves, err = m.threadMoves(hs); err != nil {
		return -1, nil, err
	}
	unified = -1
	if dir, ok := m.paths[UnifiedKey]; ok {
		if unified, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return -1, nil, err
		}
	}
	return unified, moves, nil
}

// threadMove is one v1 hierarchy: the container's directory there and the
// calling thread's own.
type threadMove struct{ dir, own string }

// threadMoves pairs each v1 directory of m with the calling thread's own
// cgroup on the same hierarchy.
func (m *Manager) threadMoves(hs []hierarchy) ([]threadMove, error) {
	own, err := readThreadCgroups()
	if err != nil {
		return nil, err
	}
	var moves []threadMove
	seen := map[string]bool{}
	for _, h := range hs {
		if h.unified() {
			continue
		}
		dir, ok := m.paths[h.keys()[0]]
		if !ok || seen[dir] {
			continue
		}
		seen[dir] = true
		base, ok := h.base(own, false)
		if !ok {
			return nil, fmt.Errorf("own cgroup not visible under %s", h.mountpoint)
		}
		moves = append(moves, threadMove{dir: dir, own: base})
	}
	return moves, nil
}

// thawed reports whether the cgroup's v1 freezer, if any, lets tasks run: a
// thread moved into a frozen cgroup would stop there.
func (m *Manager) thawed() bool {
	dir, ok := m.paths["freezer"]
	if !ok {
		return true
	}
	state, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
	return err == nil && strings.TrimSpace(string(state)) == "THAWED"
}

// leave moves the calling thread back to its own cgroups, as far as it
// can: the thread is discarded anyway, this only makes sure that nothing of
// the caller's is in the cgroup once Start returns.
func leave(entered []threadMove) {
	for _, mv := range entered {
		_ = writeFile(filepath.Join(mv.own, "tasks"), "0")
	}
}

// readThreadCgroups parses /proc/thread-self/cgroup: on v1 each thread has
// cgroups of its own.
func readThreadCgroups() (map[string]string, error) {
	f, err := os.Open("/proc/thread-self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	defer f.Close()
	return parseProcCgroup(f)
}
