package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/corral-dev/corral/errdefs"
	"golang.org/x/sys/unix"
)

// TailAll is LogOptions.Tail for every line.
const TailAll = -1

// timestampFormat is how Docker prints timestamps (logs -t): RFC 3339 with
// nanoseconds, fixed width.
const timestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// LogOptions select and shape what ReadLogs reads.
type LogOptions struct {
	// Follow keeps reading as the log grows, across rotation (given
	// Monitor), until ctx is done, the log ends or an entry is past Until.
	Follow bool
	// Done, with Follow, is closed when the container's exit is recorded
	// (the monitor writes the last entries before it records the exit).
	// Without Monitor the log ends then: ReadLogs reads to its end and
	// returns. With Monitor the log ends when the monitor says so, and
	// ReadLogs returns once Done is closed too.
	Done <-chan struct{}
	// Since and Until bound the entries' times; zero means unbounded.
	Since, Until time.Time
	// Tail is how many of the last entries to start with; TailAll (any
	// negative number) for all of them.
	Tail int
	// Timestamps prefixes each entry with its time.
	Timestamps bool
	// Monitor, with Follow, is the client of the monitor writing the log:
	// the reader takes each new file from it (Client.FollowLog) the moment
	// the monitor makes it, so no rotation can remove a file before it is
	// read. Nil (or a monitor that has exited) when nothing writes the log
	// any more: no rotation can happen then.
	Monitor *Client
	// Stdout and Stderr select the streams.
	Stdout, Stderr bool
	// Raw writes entries unframed (a container with a terminal); otherwise
	// each entry is one frame of Docker's multiplexed stream.
	Raw bool
}

// LogEntry is one entry of a json-file log.
type LogEntry struct {
	Stream byte // StreamStdout or StreamStderr
	Time   time.Time
	// Line is the message, with its newline unless it is partial; it is
	// valid only during the callback.
	Line []byte
}

// ReadLogs writes the entries of the json-file log at path (and its
// rotated files) that opts selects to w, as the body of Docker's
// GET /containers/{id}/logs: framed unless opts.Raw.
func ReadLogs(ctx context.Context, path string, opts LogOptions, w io.Writer) error {
	var buf []byte
	return ReadLogEntries(ctx, path, opts, func(e *LogEntry) error {
		start := 0
		buf = buf[:0]
		if !opts.Raw {
			buf = append(buf, make([]byte, FrameHeaderLen)...)
			start = FrameHeaderLen
		}
		if opts.Timestamps {
			buf = e.Time.UTC().AppendFormat(buf, timestampFormat)
			buf = append(buf, ' ')
		}
		buf = append(buf, e.Line...)
		if !opts.Raw {
			putHeader(buf, e.Stream, len(buf)-start)
		}
		_, err := w.Write(buf)
		return err
	})
}

// ReadLogEntries calls fn for each entry of the log at path that opts
// selects (opts.Timestamps and opts.Raw do not apply), oldest first.
func ReadLogEntries(ctx context.Context, path string, opts LogOptions, fn func(*LogEntry) error) error {
	lf, cur, closed, err := subscribe(ctx, path, opts)
	if err != nil {
		return err
	}
	if lf != nil {
		defer lf.Close()
	}
	if closed { // nothing writes the log: read to its end and return
		done := make(chan struct{})
		close(done)
		opts.Done = done
	}
	files, err := openLogFiles(path)
	if cur != nil {
		var cerr error
		files, cerr = withCurrent(files, cur)
		err = errors.Join(err, cerr)
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if err != nil {
		return err
	}
	r := &logReader{path: path, opts: opts, fn: fn}
	if err := r.history(files); err != nil {
		return r.result(err)
	}
	if !opts.Follow || len(files) == 0 {
		return nil
	}
	cur = files[len(files)-1]
	files = files[:len(files)-1] // follow closes cur
	return r.result(r.follow(ctx, cur, lf))
}

// subscribe opens the stream of the log's files when following a log the
// monitor writes (opts.Monitor), before anything is read, and takes the
// current file from it. Where the monitor has exited, died or closed the
// log, nothing writes it any more: closed is true, lf and cur nil.
func subscribe(ctx context.Context, path string, opts LogOptions) (lf *LogFiles, cur *os.File, closed bool, err error) {
	if !opts.Follow || opts.Monitor == nil {
		return nil, nil, false, nil
	}
	lf, err = opts.Monitor.FollowLog(ctx, path)
	if errdefs.IsConflict(err) || errdefs.IsNotFound(err) || errors.Is(err, ErrMonitorDead) {
		return nil, nil, true, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("read log: %w", err)
	}
	cur, err = lf.Next()
	if err == nil && cur == nil {
		err = errors.New("follow log: no current file")
	}
	if err != nil {
		lf.Close()
		return nil, nil, false, fmt.Errorf("read log: %w", err)
	}
	return lf, cur, false, nil
}

// withCurrent keeps the files older than cur (by inode), closes the
// others (cur itself and newer ones, which the stream brings) and appends
// cur. When cur is not among them it was rotated away, and every older
// file with it.
func withCurrent(files []*os.File, cur *os.File) ([]*os.File, error) {
	want, err := inode(cur)
	if err != nil {
		return append(files, cur), fmt.Errorf("read log: %w", err)
	}
	k := slices.IndexFunc(files, func(f *os.File) bool {
		ino, err := inode(f)
		return err == nil && ino == want
	})
	if k < 0 {
		k = 0
	}
	for _, f := range files[k:] {
		f.Close()
	}
	return append(files[:k], cur), nil
}

// history reads the files from where opts.Tail starts, the last one only
// when not following (follow reads it).
func (r *logReader) history(files []*os.File) error {
	idx, off := 0, int64(0)
	if r.opts.Tail >= 0 {
		idx, off = tailStart(files, r.opts.Tail)
	}
	for i := idx; i < len(files); i++ {
		if i > idx {
			off = 0
		}
		if _, err := files[i].Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		if r.opts.Follow && i == len(files)-1 {
			break
		}
		if err := r.drain(files[i]); err != nil {
			return err
		}
	}
	return nil
}

// errPastUntil ends a read at the first entry after Until.
var errPastUntil = errors.New("past until")

// logReader reads entries and passes on the selected ones.
type logReader struct {
	path    string
	opts    LogOptions
	fn      func(*LogEntry) error
	br      *bufio.Reader
	partial []byte // a line not yet complete at the end of the file
	entry   LogEntry
}

func (r *logReader) result(err error) error {
	if errors.Is(err, errPastUntil) {
		return nil
	}
	return err
}

// drain reads f from its offset to its end. A line not ending in a newline
// (the writer is still writing it) is kept for the next drain.
func (r *logReader) drain(f *os.File) error {
	if r.br == nil {
		r.br = bufio.NewReaderSize(f, 32<<10)
	}
	br := r.br
	br.Reset(f) // empty: every drain reads to the end
	for {
		chunk, err := br.ReadSlice('\n')
		if err == nil {
			line := chunk
			if len(r.partial) > 0 {
				r.partial = append(r.partial, chunk...)
				line = r.partial
			}
			if err := r.decode(line); err != nil {
				return err
			}
			r.partial = r.partial[:0]
			continue
		}
		r.partial = append(r.partial, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("read log: %w", err)
	}
}

// jsonEntry is an entry as json-file stores it.
type jsonEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// decode parses one line and passes it on if selected.
func (r *logReader) decode(line []byte) error {
	var je jsonEntry
	if err := json.Unmarshal(line, &je); err != nil {
		return nil // a torn or foreign line: skip it, as Docker does
	}
	stream := byte(StreamStdout)
	if je.Stream == "stderr" {
		stream = StreamStderr
	}
	if stream == StreamStdout && !r.opts.Stdout || stream == StreamStderr && !r.opts.Stderr {
		return nil
	}
	if !r.opts.Since.IsZero() && je.Time.Before(r.opts.Since) {
		return nil
	}
	if !r.opts.Until.IsZero() && je.Time.After(r.opts.Until) {
		return errPastUntil
	}
	r.entry = LogEntry{Stream: stream, Time: je.Time, Line: append(r.entry.Line[:0], je.Log...)}
	return r.fn(&r.entry)
}

// maxAttempts bounds the retries of a reader racing with rotations.
const maxAttempts = 100

// logFile is one of the log's files, by name and inode.
type logFile struct {
	name string
	ino  uint64
}

// snapshot lists the log's files, oldest first, as they are at one
// instant: it lists until two lists agree, so a rotation (a chain of
// renames) cannot tear it.
func snapshot(path string) []logFile {
	prev := listLogFiles(path)
	for range maxAttempts {
		cur := listLogFiles(path)
		if slices.Equal(prev, cur) {
			return cur
		}
		prev = cur
	}
	return prev
}

// listLogFiles lists the log's files that exist, oldest first.
func listLogFiles(path string) []logFile {
	var files []logFile
	for i := 1; ; i++ {
		var st unix.Stat_t
		if unix.Stat(rotated(path, i), &st) != nil {
			break
		}
		files = append(files, logFile{rotated(path, i), st.Ino})
	}
	slices.Reverse(files)
	var st unix.Stat_t
	if unix.Stat(path, &st) == nil {
		files = append(files, logFile{path, st.Ino})
	}
	return files
}

// openAs opens lf.name; ok is false when the name no longer holds that
// file (a rotation moved it meanwhile).
func openAs(lf logFile) (f *os.File, ok bool, err error) {
	f, err = os.Open(lf.name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open log: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Ino != lf.ino {
		f.Close()
		return nil, false, nil
	}
	return f, true, nil
}

// openLogFiles opens the log's files, oldest first, all as of one
// instant.
func openLogFiles(path string) ([]*os.File, error) {
	for range maxAttempts {
		var files []*os.File
		ok := true
		for _, lf := range snapshot(path) {
			f, fok, err := openAs(lf)
			if err != nil || !fok {
				for _, f := range files {
					f.Close()
				}
				if err != nil {
					return nil, err
				}
				ok = false
				break
			}
			files = append(files, f)
		}
		if ok {
			return files, nil
		}
	}
	return nil, errors.New("open log: it rotates too fast to read")
}

// tailStart finds where the last n entries begin: a file's index and an
// offset in it.
func tailStart(files []*os.File, n int) (int, int64) {
	for i := len(files) - 1; i >= 0; i-- {
		off, found := tailOffset(files[i], n)
		if found >= n {
			return i, off
		}
		n -= found
	}
	return 0, 0
}

// tailOffset returns the offset of the n-th last complete line of f, or 0
// and the number of complete lines when f has fewer. For n = 0 it is the
// end of the last complete line.
func tailOffset(f *os.File, n int) (int64, int) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0
	}
	end := st.Size()
	buf := make([]byte, 32<<10)
	found, first := 0, true
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil {
			return 0, found
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' {
				continue
			}
			if first { // the newline ending the last line; bytes after it are a line being written
				if n == 0 {
					return start + int64(i) + 1, 0
				}
				first = false
				continue
			}
			if found++; found == n {
				return start + int64(i) + 1, found
			}
		}
		end = start
	}
	if !first {
		found++ // the first line of the file
	}
	if found >= n {
		return 0, n
	}
	return 0, found
}

// rotated is the name of the log's file i: path itself for 0, else path.i
// (the monitor rotates path to path.1, path.1 to path.2, ...).
func rotated(path string, i int) string {
	if i == 0 {
		return path
	}
	return path + "." + strconv.Itoa(i)
}
