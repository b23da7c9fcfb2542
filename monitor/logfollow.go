package monitor

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// follow reads cur as it grows and, once the monitor has made a newer file
// (lf), to its end, then goes on with the next file, until the stream
// ends: the log is closed (every file read to its end) or the monitor
// dropped the follower (an error). Without a stream (nothing writes the
// log any more) it reads cur until opts.Done is closed.
func (r *logReader) follow(ctx context.Context, cur *os.File, lf *LogFiles) error {
	w := newDirWatch(filepath.Dir(r.path))
	defer w.close()
	defer func() { cur.Close() }()
	for {
		if err := r.drain(cur); err != nil {
			return err
		}
		next, err := r.next(lf)
		if errors.Is(err, io.EOF) { // the log is closed: cur is complete
			if err := r.drain(cur); err != nil {
				return err
			}
			return r.settled(ctx)
		}
		if err != nil {
			return err
		}
		if next != nil {
			// The monitor made next after it closed cur: what cur holds
			// now is all it will.
			if err := r.drain(cur); err != nil {
				return err
			}
			cur.Close()
			cur = next
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		w.wait(250 * time.Millisecond)
	}
}

// settled waits for opts.Done, if set: the caller has recorded the exit
// (a client that sees the end of logs -f then sees the container exited).
func (r *logReader) settled(ctx context.Context) error {
	if r.opts.Done == nil {
		return nil
	}
	select {
	case <-r.opts.Done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next is the file after the one read, nil while there is none; io.EOF
// once the log is closed.
func (r *logReader) next(lf *LogFiles) (*os.File, error) {
	if lf != nil {
		return lf.Next()
	}
	select {
	case <-r.opts.Done:
		return nil, io.EOF
	default:
		return nil, nil
	}
}

// dirWatch wakes a follower when a file in the log's directory is
// written; without inotify it just sleeps.
type dirWatch struct{ f *os.File }

func newDirWatch(dir string) *dirWatch {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return &dirWatch{}
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return &dirWatch{}
	}
	return &dirWatch{f: os.NewFile(uintptr(fd), "inotify")}
}

// wait returns after an event or after d.
func (w *dirWatch) wait(d time.Duration) {
	if w.f == nil {
		time.Sleep(d)
		return
	}
	var buf [4096]byte
	w.f.SetReadDeadline(time.Now().Add(d))
	if _, err := w.f.Read(buf[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, syscall.EAGAIN) {
		time.Sleep(d)
	}
}

func (w *dirWatch) close() {
	if w.f != nil {
		w.f.Close()
	}
}
