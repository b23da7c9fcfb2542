package nsenter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Env names the environment variable that starts the constructor: its value
// is the decimal number of an inherited descriptor of a connected stream
// socket (one end of a socketpair) on which the constructor reads a Request
// and writes its replies. The constructor removes it from the environment.
const Env = "_CORRAL_NSENTER"

// magic starts the request header, "CORRAL-NSENTER <body length>\n".
const magic = "CORRAL-NSENTER "

// maxBody is the largest request body the constructor accepts.
const maxBody = 64 << 10

// joinTypes are the namespace types a Join may name.
var joinTypes = map[string]bool{
	"user": true, "mnt": true, "pid": true, "net": true,
	"ipc": true, "uts": true, "cgroup": true, "time": true,
}

// unshareAllowed are the flags Request.Unshare may hold. A cgroup
// namespace is unshared later by init, once it is in its cgroup.
const unshareAllowed = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWNET |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWTIME

// timeClocks are the clocks a time namespace can shift.
var timeClocks = map[string]bool{"monotonic": true, "boottime": true}

// Join names an existing namespace to enter.
type Join struct {
	// Type is one of "user", "mnt", "pid", "net", "ipc", "uts", "cgroup"
	// and "time".
	Type string
	// Path is a namespace file, such as /proc/123/ns/net.
	Path string
}

// TimeOffset shifts one clock of a new time namespace (time_namespaces(7)).
type TimeOffset struct {
	// Clock is "monotonic" or "boottime".
	Clock    string
	Secs     int64
	Nanosecs uint32 // below 1e9
}

// Request is what the constructor does: join the namespaces of Joins (user
// first, then ipc, uts, net, pid, cgroup, time, and mnt last, whatever their
// order in the slice), then unshare the namespaces of Unshare (user first,
// on its own, so that it owns the others) and give a new time namespace its
// offsets.
type Request struct {
	Joins []Join
	// Unshare holds CLONE_NEW* flags: any of NEWUSER, NEWNS, NEWNET,
	// NEWIPC, NEWUTS, NEWPID and NEWTIME.
	Unshare uintptr
	// TimeOffsets are written to the new time namespace before any process
	// enters it; they need CLONE_NEWTIME in Unshare.
	TimeOffsets []TimeOffset
}

// WriteTo sends the request, in one write, after checking it.
func (r Request) WriteTo(w io.Writer) (int64, error) {
	if !linked {
		return 0, errors.New("send nsenter request: corral was built without cgo, so nothing would read it")
	}
	body, err := r.body()
	if err != nil {
		return 0, fmt.Errorf("send nsenter request: %w", err)
	}
	msg := append([]byte(magic+strconv.Itoa(len(body))+"\n"), body...)
	n, err := w.Write(msg)
	if err != nil {
		return int64(n), fmt.Errorf("send nsenter request: %w", err)
	}
	return int64(n), nil
}

// body is the request body: "join <type> <path>\n" per join, then
// "unshare <decimal flags>\n" when there are flags, then "timens <clock>
// <secs> <nanosecs>\n" per time offset.
func (r Request) body() ([]byte, error) {
	var b bytes.Buffer
	if err := r.writeJoins(&b); err != nil {
		return nil, err
	}
	if extra := r.Unshare &^ unshareAllowed; extra != 0 {
		return nil, fmt.Errorf("cannot unshare flags %#x", extra)
	}
	if r.Unshare != 0 {
		fmt.Fprintf(&b, "unshare %d\n", r.Unshare)
	}
	if err := r.writeTimeOffsets(&b); err != nil {
		return nil, err
	}
	if b.Len() > maxBody {
		return nil, fmt.Errorf("request of %d bytes exceeds %d", b.Len(), maxBody)
	}
	return b.Bytes(), nil
}

func (r Request) writeJoins(b *bytes.Buffer) error {
	seen := map[string]bool{}
	for _, j := range r.Joins {
		if !joinTypes[j.Type] {
			return fmt.Errorf("unknown namespace type %q", j.Type)
		}
		if seen[j.Type] {
			return fmt.Errorf("%s namespace joined twice", j.Type)
		}
		seen[j.Type] = true
		if j.Path == "" || strings.ContainsAny(j.Path, "\n\x00") {
			return fmt.Errorf("bad path %q for the %s namespace", j.Path, j.Type)
		}
		fmt.Fprintf(b, "join %s %s\n", j.Type, j.Path)
	}
	return nil
}

// writeTimeOffsets checks the offsets as the constructor will: only for a
// time namespace this request unshares (the offsets of one a process
// already entered are frozen), each clock once, nanoseconds below a second.
func (r Request) writeTimeOffsets(b *bytes.Buffer) error {
	if len(r.TimeOffsets) > 0 && r.Unshare&unix.CLONE_NEWTIME == 0 {
		return errors.New("time offsets without a new time namespace (CLONE_NEWTIME in Unshare)")
	}
	seen := map[string]bool{}
	for _, o := range r.TimeOffsets {
		if !timeClocks[o.Clock] {
			return fmt.Errorf("time offset for unknown clock %q (want monotonic or boottime)", o.Clock)
		}
		if seen[o.Clock] {
			return fmt.Errorf("two time offsets for clock %s", o.Clock)
		}
		seen[o.Clock] = true
		if o.Nanosecs >= 1e9 {
			return fmt.Errorf("time offset for clock %s: %d nanoseconds is a second or more", o.Clock, o.Nanosecs)
		}
		fmt.Fprintf(b, "timens %s %d %d\n", o.Clock, o.Secs, o.Nanosecs)
	}
	return nil
}

// Await reads the constructor's replies from r until it reports the pid of
// the process that goes on into Go, and returns that pid.
//
// When the request unshares a user namespace, the constructor first asks for
// its id maps: Await calls writeMaps with the pid to map (the runtime writes
// /proc/<pid>/uid_map, gid_map and setgroups), then acknowledges on w. If
// writeMaps fails, Await tells the constructor to give up (it exits with
// status 1) and returns the error.
//
// An "error" reply becomes an error holding the constructor's message; the
// process then exits with status 1. Await reads nothing past the final
// reply, but bufio may have buffered later bytes: read what follows on the
// socket through the same r. Await does not time out; to bound it (a binary
// without the constructor would never answer), set a deadline on the socket.
func Await(r *bufio.Reader, w io.Writer, writeMaps func(pid int) error) (int, error) {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("read nsenter reply: %w", err)
		}
		verb, arg, _ := strings.Cut(strings.TrimSuffix(string(line), "\n"), " ")
		switch verb {
		case "error":
			return 0, fmt.Errorf("nsenter: %s", arg)
		case "pid":
			return parsePid(arg)
		case "maps":
			if err := ackMaps(arg, w, writeMaps); err != nil {
				return 0, err
			}
		default:
			return 0, fmt.Errorf("read nsenter reply: unexpected %q", line)
		}
	}
}

// ackMaps handles "maps <pid>": write the maps, then say "ack".
func ackMaps(arg string, w io.Writer, writeMaps func(pid int) error) error {
	pid, err := parsePid(arg)
	if err != nil {
		return err
	}
	if writeMaps == nil {
		return fmt.Errorf("write id maps of pid %d: no writeMaps given", pid)
	}
	if err := writeMaps(pid); err != nil {
		_, _ = io.WriteString(w, "abort\n") // best effort: the error below matters more
		return fmt.Errorf("write id maps of pid %d: %w", pid, err)
	}
	if _, err := io.WriteString(w, "ack\n"); err != nil {
		return fmt.Errorf("acknowledge id maps of pid %d: %w", pid, err)
	}
	return nil
}

func parsePid(s string) (int, error) {
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("read nsenter reply: bad pid %q", s)
	}
	return pid, nil
}
