package monitor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pinned keeps open, for a follower, every file of the log newer than the
// one it reads, from the moment the writer makes it: a goroutine that
// wakes on the log directory's renames opens each new file at once. The
// kernel keeps an unlinked file's data while it is open, so a follower that
// lags behind the writer by more than the kept files (a slow client, a
// busy machine) still reads every line once, in order, rather than lose the
// files rotated away meanwhile; their space is freed when it has read
// them. It misses a file only if the writer rotates it away within the
// goroutine's own wake-up latency (MaxFiles-1 rotations).
type pinned struct {
	path string
	w    *dirWatch
	stop chan struct{}
	done chan struct{}

	// mu guards the fields below.
	mu    sync.Mutex
	files []*os.File // newer than the follower's file, oldest first
	last  uint64     // the inode of the newest file opened
	err   error
}

// pin starts pinning the files newer than the one with inode last.
func pin(path string, last uint64) *pinned {
	p := &pinned{path: path, last: last, stop: make(chan struct{}), done: make(chan struct{})}
	p.w = newDirWatchMask(filepath.Dir(path), unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_MOVED_FROM|unix.IN_DELETE)
	go p.run()
	return p
}

func (p *pinned) run() {
	defer close(p.done)
	for {
		p.scan()
		select {
		case <-p.stop:
			return
		default:
		}
		p.w.wait(100 * time.Millisecond)
	}
}

// scan opens the files made since the newest one opened.
func (p *pinned) scan() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return
	}
	files := snapshot(p.path)
	// Files go oldest first: when the last one opened is gone, every file
	// left is newer.
	k := slices.IndexFunc(files, func(f logFile) bool { return f.ino == p.last })
	for _, lf := range files[k+1:] {
		f, ok, err := openAs(lf)
		if err != nil {
			p.err = err
			return
		}
		if !ok {
			return // renamed meanwhile: the next scan sees the new names
		}
		p.files = append(p.files, f)
		p.last = lf.ino
	}
}

// next takes the oldest pinned file (nil if there is none yet).
func (p *pinned) next() (*os.File, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.files) == 0 {
		return nil, p.err
	}
	f := p.files[0]
	p.files = p.files[1:]
	return f, nil
}

// close stops the goroutine and closes the files not taken.
func (p *pinned) close() {
	close(p.stop)
	if p.w.f != nil {
		p.w.f.SetReadDeadline(time.Now()) // end its wait
	}
	<-p.done
	p.w.close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.files {
		f.Close()
	}
	p.files = nil
}

// inode is f's inode number.
func inode(f *os.File) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// follow reads cur as it grows and, once the writer has rotated it (a
// newer file is pinned), to its end, then goes on with the next file.
func (r *logReader) follow(ctx context.Context, cur *os.File, p *pinned) error {
	w := newDirWatchMask(filepath.Dir(r.path), unix.IN_MODIFY)
	defer w.close()
	defer func() { cur.Close() }()
	finishing := false
	for {
		if err := r.drain(cur); err != nil {
			return err
		}
		next, err := p.next()
		if err == nil && next == nil {
			// At the end of cur: look for a newer file now too, rather
			// than only when the pinning goroutine next runs.
			p.scan()
			next, err = p.next()
		}
		if err != nil {
			return err
		}
		if next != nil {
			// The writer made next after it closed cur: what cur holds
			// now is all it will.
			if err := r.drain(cur); err != nil {
				return err
			}
			cur.Close()
			cur = next
			continue
		}
		if finishing {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.opts.Done:
			p.scan() // the writer is done: its last files are there
			finishing = true
			continue
		default:
		}
		w.wait(250 * time.Millisecond)
	}
}

// dirWatch wakes a follower when something in the log's directory
// changes; without inotify it just sleeps.
type dirWatch struct{ f *os.File }

func newDirWatchMask(dir string, mask uint32) *dirWatch {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return &dirWatch{}
	}
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
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
