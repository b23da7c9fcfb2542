package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLogFollowerDropped is the end of a follower that the monitor
// dropped: it stopped taking the log's files (its socket held more than
// about 270 files), or the monitor died, while the container ran. The
// lines read before it are all there were up to then, in order.
var ErrLogFollowerDropped = errors.New("the monitor stopped sending the log's files: the follower fell behind its rotation")

// LogFiles is a follower's stream of the files of the container's
// json-file log ({"op":"logfollow"}): the one being written when it was
// opened, then each new one from the moment the monitor makes it, before
// a rotation can remove it. The kernel keeps the data of a file while a
// descriptor holds it, so a reader behind the writer by any number of
// rotations (up to what the socket holds) still reads every line.
type LogFiles struct {
	c     *Client
	path  string
	conn  *net.UnixConn
	raw   syscall.RawConn
	reply []byte     // the answer's line, until it is complete
	queue []*os.File // received, not yet taken
	last  uint64     // the inode of the last file taken
	eof   bool
	buf   [4096]byte
	oob   []byte
}

// FollowLog opens a stream of the log's files; path is the log's path
// (Config.LogPath), which tells at the end whether every file came. The
// error is classed errdefs.ErrConflict when the log is not being
// written (another driver, or the container's output has ended).
func (c *Client) FollowLog(ctx context.Context, path string) (*LogFiles, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, c.gone(err)
	}
	s := &LogFiles{c: c, path: path, conn: conn, oob: make([]byte, unix.CmsgSpace(16*4))}
	if err := s.subscribe(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// subscribe sends the request and waits for the answer and the current
// file.
func (s *LogFiles) subscribe(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Now()) })
	defer stop()
	defer s.conn.SetDeadline(time.Time{})
	raw, err := s.conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("follow log: %w", err)
	}
	s.raw = raw
	if err := writeLine(s.conn, &request{Op: opLogFollow}); err != nil {
		return s.c.gone(err)
	}
	for len(s.queue) == 0 {
		if s.eof {
			return s.c.gone(io.ErrUnexpectedEOF)
		}
		if _, err := s.receive(true); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
	return nil
}

// Next returns the next file, the current one first: nil when the
// monitor has made none since; io.EOF once the log is closed and every
// file came; ErrLogFollowerDropped when the monitor dropped this
// follower. It does not wait. The caller closes the files.
func (s *LogFiles) Next() (*os.File, error) {
	for len(s.queue) == 0 && !s.eof {
		got, err := s.receive(false)
		if err != nil {
			return nil, err
		}
		if !got {
			return nil, nil
		}
	}
	if len(s.queue) == 0 {
		return nil, s.end()
	}
	f := s.queue[0]
	s.queue = s.queue[1:]
	ino, err := inode(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("follow log: %w", err)
	}
	s.last = ino
	return f, nil
}

// end tells why the stream ended. The monitor closes it once it has
// closed the log and recorded the exit; then the last file taken is the
// last one it made, still at path (no rotation runs any more). Anything
// else is a follower it dropped, or its death.
func (s *LogFiles) end() error {
	if _, err := readExit(s.c.dir); err != nil {
		return fmt.Errorf("follow log of %s: %w (the container still runs)", s.c.ID, ErrLogFollowerDropped)
	}
	var st unix.Stat_t
	if err := unix.Stat(s.path, &st); err != nil || st.Ino != s.last {
		return fmt.Errorf("follow log of %s: %w (it rotated past the last file sent)", s.c.ID, ErrLogFollowerDropped)
	}
	return io.EOF
}

// receive reads one message; got is false when there was none (only
// without block).
func (s *LogFiles) receive(block bool) (got bool, err error) {
	n, oobn, flags, err := s.recvmsg(block)
	if errors.Is(err, unix.EAGAIN) {
		return false, nil
	}
	if errors.Is(err, unix.ECONNRESET) {
		n, err = 0, nil // closed by the monitor: the same end as EOF
	}
	fds, perr := parseRights(s.oob[:oobn])
	if err == nil && perr != nil {
		err = perr
	}
	if err == nil && flags&unix.MSG_CTRUNC != 0 {
		err = errors.New("descriptors truncated")
	}
	if err != nil {
		closeFDs(fds)
		return false, fmt.Errorf("follow log: receive: %w", err)
	}
	if n == 0 {
		closeFDs(fds)
		s.eof = true
		return true, nil
	}
	return true, s.take(s.buf[:n], fds)
}

// recvmsg reads into s.buf and s.oob, waiting for a message with block
// (until the connection's deadline), else EAGAIN when there is none.
func (s *LogFiles) recvmsg(block bool) (n, oobn, flags int, err error) {
	var rerr error
	read := func(fd uintptr) bool {
		for {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), s.buf[:], s.oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
			if rerr != unix.EINTR {
				return !block || rerr != unix.EAGAIN
			}
		}
	}
	if block {
		err = s.raw.Read(read)
	} else {
		err = s.raw.Control(func(fd uintptr) { read(fd) })
	}
	if err == nil {
		err = rerr
	}
	return n, oobn, flags, err
}

// take reads the answer's line, then one 'f' for each file received.
func (s *LogFiles) take(data []byte, fds []int) error {
	for len(data) > 0 && (s.reply == nil || s.reply[len(s.reply)-1] != '\n') {
		s.reply = append(s.reply, data[0])
		data = data[1:]
		if s.reply[len(s.reply)-1] == '\n' {
			if err := s.answer(); err != nil {
				closeFDs(fds)
				return err
			}
		}
	}
	for _, b := range data {
		if b != 'f' || len(fds) == 0 {
			closeFDs(fds)
			return fmt.Errorf("follow log: unexpected %q from the monitor", b)
		}
		s.queue = append(s.queue, os.NewFile(uintptr(fds[0]), "log"))
		fds = fds[1:]
	}
	if len(fds) > 0 {
		closeFDs(fds)
		return errors.New("follow log: descriptors without a file message")
	}
	return nil
}

// answer decodes the monitor's answer.
func (s *LogFiles) answer() error {
	var resp response
	if err := json.Unmarshal(s.reply, &resp); err != nil {
		return fmt.Errorf("follow log: decode message: %w", err)
	}
	if err := resp.err(); err != nil {
		return fmt.Errorf("follow log: %w", err)
	}
	return nil
}

// Close ends the stream and closes the files not taken.
func (s *LogFiles) Close() error {
	for _, f := range s.queue {
		f.Close()
	}
	s.queue = nil
	return s.conn.Close()
}

// parseRights returns the descriptors in a control message.
func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		r, err := unix.ParseUnixRights(&m)
		if err != nil {
			closeFDs(fds)
			return nil, err
		}
		fds = append(fds, r...)
	}
	return fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// inode is f's inode number.
func inode(f *os.File) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}
