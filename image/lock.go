package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// storeLock is the store-wide flock: shared while a verb adds content (so the
// collector cannot sweep what it writes), exclusive for garbage collection.
// Every acquisition opens its own file description, so it excludes within a
// process as it does between processes.
type storeLock struct {
	path string
}

// lockPoll is how often a blocked acquisition retries.
const lockPoll = 20 * time.Millisecond

// lock acquires the lock, waiting until ctx is done; call the returned
// function to release it.
func (l *storeLock) lock(ctx context.Context, exclusive bool) (func(), error) {
	for {
		unlock, ok, err := l.try(exclusive)
		if err != nil || ok {
			return unlock, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for image store lock: %w", ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

// try acquires the lock if it is free now.
func (l *storeLock) try(exclusive bool) (func(), bool, error) {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("open image store lock: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, false, nil
	}
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock image store: %w", err)
	}
	return func() { f.Close() }, true, nil
}
