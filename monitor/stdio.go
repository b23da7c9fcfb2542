package monitor

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// readBufSize is the size of one read of the container's output.
const readBufSize = 32 << 10

// bufPool holds read buffers: a buffer is taken only once a descriptor is
// readable, so an idle monitor holds none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// readChunk waits until f is readable and reads once into a pooled buffer
// (put it back with bufPool.Put). A pty master whose slave side is all
// closed reads as EOF.
func readChunk(rc syscall.RawConn) (*[]byte, int, error) {
	var (
		bp   *[]byte
		n    int
		rerr error
	)
	err := rc.Read(func(fd uintptr) bool {
		bp = bufPool.Get().(*[]byte)
		for {
			n, rerr = unix.Read(int(fd), *bp)
			if rerr != unix.EINTR {
				break
			}
		}
		if rerr == unix.EAGAIN {
			bufPool.Put(bp)
			bp = nil
			return false
		}
		return true
	})
	if err == nil {
		err = rerr
	}
	if err != nil || n <= 0 {
		if bp != nil {
			bufPool.Put(bp)
		}
		if err == nil || errors.Is(err, unix.EIO) {
			err = errEOF
		}
		return nil, 0, err
	}
	return bp, n, nil
}

var errEOF = errors.New("end of output")

// pump reads f until its end and hands each chunk to out (which must not
// keep it), then closes f.
func pump(f *os.File, out func(b []byte)) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	for {
		bp, n, err := readChunk(rc)
		if err != nil {
			return
		}
		out((*bp)[:n])
		bufPool.Put(bp)
	}
}

// procFiles are a process's stdin, stdout and stderr.
type procFiles struct {
	in, out, err *os.File
}

// procStdio is a process's stdio as the monitor holds it: our ends of the
// pipes; theirs are what the process gets (through the runtime).
type procStdio struct {
	stdin          *os.File // our write end, nil without stdin
	stdout, stderr *os.File // our read ends, nil without output
	theirs         procFiles
}

// pipeStdio makes pipes for a process without a terminal: stdin only when
// asked for (else /dev/null); stdout and stderr as asked (else /dev/null).
func pipeStdio(stdin, output bool) (*procStdio, error) {
	p := &procStdio{}
	fail := func(err error) (*procStdio, error) {
		p.close()
		p.closeTheirs()
		return nil, err
	}
	var err error
	if stdin {
		if p.theirs.in, p.stdin, err = os.Pipe(); err != nil {
			return fail(fmt.Errorf("stdin pipe: %w", err))
		}
	} else if p.theirs.in, err = os.Open(os.DevNull); err != nil {
		return fail(err)
	}
	if !output {
		if p.theirs.out, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
			return fail(err)
		}
		p.theirs.err = p.theirs.out
		return p, nil
	}
	if p.stdout, p.theirs.out, err = os.Pipe(); err != nil {
		return fail(fmt.Errorf("stdout pipe: %w", err))
	}
	if p.stderr, p.theirs.err, err = os.Pipe(); err != nil {
		return fail(fmt.Errorf("stderr pipe: %w", err))
	}
	return p, nil
}

// closeTheirs closes the process's ends once it has them.
func (p *procStdio) closeTheirs() {
	seen := map[*os.File]bool{}
	for _, f := range []*os.File{p.theirs.in, p.theirs.out, p.theirs.err} {
		if f != nil && !seen[f] {
			seen[f] = true
			f.Close()
		}
	}
	p.theirs = procFiles{}
}

// close closes our ends.
func (p *procStdio) close() {
	for _, f := range []*os.File{p.stdin, p.stdout, p.stderr} {
		if f != nil {
			f.Close()
		}
	}
}

// setWinsize sets a pty's window size.
func setWinsize(master *os.File, height, width uint16) error {
	if height == 0 && width == 0 {
		return nil
	}
	rc, err := master.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	err = rc.Control(func(fd uintptr) {
		ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: height, Col: width})
	})
	if err == nil {
		err = ioErr
	}
	if err != nil {
		return fmt.Errorf("resize pty: %w", err)
	}
	return nil
}
