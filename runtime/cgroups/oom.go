package cgroups

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// OOMEvents reports each out-of-memory event of the container's cgroup on
// the returned channel, until ctx is done or the cgroup is removed (v1) or
// has no process left (v2); then it closes the channel. On v1 it registers
// an eventfd for memory.oom_control through cgroup.event_control; on v2 it
// watches memory.events with inotify and reports each rise of oom_kill.
func (m *Manager) OOMEvents(ctx context.Context) (<-chan struct{}, error) {
	if dir, ok := m.v2Dir(); ok {
		if !exists(dir, "memory.events") {
			return nil, fmt.Errorf("watch OOM events: memory %w", ErrNotMounted)
		}
		return oomV2(ctx, dir)
	}
	dir, ok := m.paths["memory"]
	if !ok {
		return nil, fmt.Errorf("watch OOM events: memory %w", ErrNotMounted)
	}
	return oomV1(ctx, dir)
}

// oomV1 registers an eventfd for the cgroup's OOM notifications.
func oomV1(ctx context.Context, dir string) (<-chan struct{}, error) {
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, fmt.Errorf("watch OOM events: %w", err)
	}
	defer ctl.Close() // the registration keeps its own reference
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch OOM events: eventfd: %w", err)
	}
	ev := os.NewFile(uintptr(efd), "oom-eventfd")
	reg := fmt.Sprintf("%d %d", efd, ctl.Fd())
	if err := writeFile(filepath.Join(dir, "cgroup.event_control"), reg); err != nil {
		ev.Close()
		return nil, fmt.Errorf("watch OOM events: %w", err)
	}
	ch := make(chan struct{}, 16)
	stop := context.AfterFunc(ctx, func() { ev.Close() })
	go func() {
		defer close(ch)
		defer stop()
		defer ev.Close()
		buf := make([]byte, 8)
		for {
			if _, err := ev.Read(buf); err != nil {
				return // closed by ctx
			}
			// The eventfd also fires when the cgroup is removed.
			if !exists(dir, "cgroup.event_control") {
				return
			}
			if !send(ctx, ch) {
				return
			}
		}
	}()
	return ch, nil
}

// send delivers one event unless ctx is done first.
func send(ctx context.Context, ch chan<- struct{}) bool {
	select {
	case ch <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// oomV2 watches memory.events and cgroup.events with inotify.
func oomV2(ctx context.Context, dir string) (<-chan struct{}, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch OOM events: inotify: %w", err)
	}
	in := os.NewFile(uintptr(fd), "oom-inotify")
	for _, f := range []string{"memory.events", "cgroup.events"} {
		if _, err := unix.InotifyAddWatch(fd, filepath.Join(dir, f), unix.IN_MODIFY); err != nil {
			in.Close()
			return nil, fmt.Errorf("watch OOM events: watch %s: %w", f, err)
		}
	}
	start, err := readKeyed(dir, "memory.events")
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("watch OOM events: %w", err)
	}
	ch := make(chan struct{}, 16)
	stop := context.AfterFunc(ctx, func() { in.Close() })
	go func() {
		defer close(ch)
		defer stop()
		defer in.Close()
		watchV2(ctx, in, dir, start["oom_kill"], ch)
	}()
	return ch, nil
}

// watchV2 sends one event per rise of oom_kill until the cgroup empties,
// disappears, or in is closed.
func watchV2(ctx context.Context, in *os.File, dir string, seen uint64, ch chan<- struct{}) {
	buf := make([]byte, 4096)
	for {
		if _, err := in.Read(buf); err != nil {
			return
		}
		ev, err := readKeyed(dir, "memory.events")
		if err != nil || ev == nil {
			return // cgroup removed
		}
		for ; seen < ev["oom_kill"]; seen++ {
			if !send(ctx, ch) {
				return
			}
		}
		if populated, err := eventsField(filepath.Join(dir, "cgroup.events"), "populated"); err != nil || populated == "0" {
			return
		}
	}
}
