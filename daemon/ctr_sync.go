package daemon

import (
	"context"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/spec"
)

// opLocks serialises the verbs on one container (start against stop
// against rm...), without holding up the others.
type opLocks struct {
	mu    sync.Mutex
	locks map[string]*opLock
}

type opLock struct {
	ch    chan struct{} // a token: held while the channel is full
	users int
}

// lock takes id's lock and returns its release.
func (l *opLocks) lock(id string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*opLock{}
	}
	ol := l.locks[id]
	if ol == nil {
		ol = &opLock{ch: make(chan struct{}, 1)}
		l.locks[id] = ol
	}
	ol.users++
	l.mu.Unlock()
	ol.ch <- struct{}{}
	return func() {
		<-ol.ch
		l.mu.Lock()
		if ol.users--; ol.users == 0 {
			delete(l.locks, id)
		}
		l.mu.Unlock()
	}
}

// waiter is one POST /containers/{id}/wait (or an internal wait) for the
// next exit or the removal of a container.
type waiter struct {
	removal bool
	ch      chan container.WaitResponse
}

// addWaiter registers a wait on id; removal waits for the removal rather
// than the next exit.
func (s *Containers) addWaiter(id string, removal bool) *waiter {
	w := &waiter{removal: removal, ch: make(chan container.WaitResponse, 1)}
	s.mu.Lock()
	s.waiters[id] = append(s.waiters[id], w)
	s.mu.Unlock()
	return w
}

// dropWaiter forgets w (its client left).
func (s *Containers) dropWaiter(id string, w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.waiters[id]
	for i, x := range ws {
		if x == w {
			s.waiters[id] = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(s.waiters[id]) == 0 {
		delete(s.waiters, id)
	}
}

// notify wakes the waiters of id: exit ones on an exit, all on a removal.
func (s *Containers) notify(id string, removal bool, r container.WaitResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keep []*waiter
	for _, w := range s.waiters[id] {
		if w.removal && !removal {
			keep = append(keep, w)
			continue
		}
		w.ch <- r
	}
	if len(keep) == 0 {
		delete(s.waiters, id)
	} else {
		s.waiters[id] = keep
	}
}

// await waits for w's result or the end of ctx.
func (s *Containers) await(ctx context.Context, id string, w *waiter) (container.WaitResponse, bool) {
	select {
	case r := <-w.ch:
		return r, true
	case <-ctx.Done():
		s.dropWaiter(id, w)
		return container.WaitResponse{}, false
	}
}

// hostFacts are what spec.Build needs of the host.
func hostFacts() spec.Host {
	h := spec.Host{Arch: goruntime.GOARCH, NumCPU: goruntime.NumCPU()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.KernelRelease = unix.ByteSliceToString(u.Release[:])
	}
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		h.CgroupV2 = !strings.Contains(string(data), " - cgroup ")
	}
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		h.Caps = boundingCaps(data)
	}
	return h
}

// boundingCaps are the capabilities of the bounding set in a
// /proc/<pid>/status: the most the daemon can give a container (a
// privileged one gets these; asking the runtime for one outside them
// fails, as CAP_SYS_RESOURCE does on a host that withholds it). nil when
// the status has no readable CapBnd line.
func boundingCaps(status []byte) []string {
	for _, line := range strings.Split(string(status), "\n") {
		hex, ok := strings.CutPrefix(line, "CapBnd:")
		if !ok {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return nil
		}
		caps := []string{}
		for i, name := range spec.KnownCaps() {
			if mask&(1<<uint(i)) != 0 {
				caps = append(caps, name)
			}
		}
		return caps
	}
	return nil
}
