package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/corral-dev/corral/runtime/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultRoot is where container state lives unless --root says otherwise.
const DefaultRoot = "/run/corral/runtime"

const (
	stateFile = "state.json"
	fifoFile  = "exec.fifo"
	doneFile  = "exec.done"
)

// Status values beyond the OCI ones.
const statusPaused specs.ContainerState = "paused"

// Runtime manages the containers whose state lives under Root.
type Runtime struct {
	Root string
}

// New returns a Runtime rooted at root (DefaultRoot when empty), creating it.
func New(root string) (*Runtime, error) {
	if root == "" {
		root = DefaultRoot
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("runtime root %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o711); err != nil {
		return nil, fmt.Errorf("create runtime root: %w", err)
	}
	return &Runtime{Root: abs}, nil
}

// record is what the runtime keeps about one container in state.json.
type record struct {
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pidStart"`
	Created     time.Time         `json:"created"`
	NoPivot     bool              `json:"noPivot,omitempty"`
	Cgroups     map[string]string `json:"cgroups"`
	Spec        *specs.Spec       `json:"spec"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// State is what `state` and `list` report: the OCI state plus runc's
// extras, with the pid always present (0 once stopped), as runc prints it.
type State struct {
	Version     string               `json:"ociVersion"`
	ID          string               `json:"id"`
	Pid         int                  `json:"pid"`
	Status      specs.ContainerState `json:"status"`
	Bundle      string               `json:"bundle"`
	Rootfs      string               `json:"rootfs"`
	Created     time.Time            `json:"created"`
	Annotations map[string]string    `json:"annotations,omitempty"`
	Owner       string               `json:"owner"`
}

func checkID(id string) error {
	if id == "" || len(id) > 1024 || !validID(id) || id == "." || id == ".." {
		return fmt.Errorf("invalid container id %q: only letters, digits and the characters _ + - . are allowed", id)
	}
	return nil
}

// validID reports whether id is not empty and holds only ASCII letters,
// digits and _ + - . (the regexp ^[\w+\-.]+$ without the cost of compiling
// one at start-up).
func validID(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '+' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.Root, id) }

// load reads a container's record.
func (r *Runtime) load(id string) (*record, error) {
	var rec record
	if err := r.decodeState(id, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// recordHead decodes everything of a record but its spec: the Spec field
// here, shallower than record's, takes the "spec" key and keeps it raw.
// Decoding the spec would make encoding/json build its tables for every
// type in specs.Spec, which costs a command like pause or state more than
// all the rest of its work.
type recordHead struct {
	record
	Spec json.RawMessage `json:"spec"`
}

// loadHead reads a container's record without its spec (Spec is nil):
// enough for status, cgroups and the State that state and list print.
func (r *Runtime) loadHead(id string) (*record, error) {
	var h recordHead
	if err := r.decodeState(id, &h); err != nil {
		return nil, err
	}
	return &h.record, nil
}

// recordHooks decodes a record with only the hooks of its spec: all that
// start and delete use of it (see recordHead for why not the whole spec).
type recordHooks struct {
	record
	Spec *struct {
		Hooks *specs.Hooks `json:"hooks"`
	} `json:"spec"`
}

// loadHooks reads a container's record whose Spec holds nothing but the
// hooks, for start and delete.
func (r *Runtime) loadHooks(id string) (*record, error) {
	var h recordHooks
	if err := r.decodeState(id, &h); err != nil {
		return nil, err
	}
	rec := &h.record
	rec.Spec = &specs.Spec{}
	if h.Spec != nil {
		rec.Spec.Hooks = h.Spec.Hooks
	}
	return rec, nil
}

// decodeState reads container id's state.json into v.
func (r *Runtime) decodeState(id string, v any) error {
	if err := checkID(id); err != nil {
		return err
	}
	b, err := readFile(filepath.Join(r.dir(id), stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("container %s: %w", id, ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("read state of %s: %w", id, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode state of %s: %w", id, err)
	}
	return nil
}

// save writes the record atomically.
func (r *Runtime) save(rec *record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode state of %s: %w", rec.ID, err)
	}
	return writeFileAtomic(filepath.Join(r.dir(rec.ID), stateFile), b, 0o600)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// status derives the container's state from its init process and fifo.
func (r *Runtime) status(rec *record) specs.ContainerState {
	if rec.Pid <= 0 || !processAlive(rec.Pid, rec.PidStart) {
		return specs.StateStopped
	}
	if _, err := os.Lstat(filepath.Join(r.dir(rec.ID), fifoFile)); err == nil {
		return specs.StateCreated
	}
	if frozen(rec) {
		return statusPaused
	}
	return specs.StateRunning
}

// frozen reports whether the container's cgroup is frozen (v1 freezer, or
// cgroup.freeze on v2).
func frozen(rec *record) bool {
	if dir, ok := rec.Cgroups["freezer"]; ok {
		b, err := readFile(filepath.Join(dir, "freezer.state"))
		return err == nil && strings.TrimSpace(string(b)) == "FROZEN"
	}
	// cgroup v2: cgroup.freeze holds what pause asked for.
	if dir, ok := rec.Cgroups[cgroups.UnifiedKey]; ok {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.freeze"))
		return err == nil && strings.TrimSpace(string(b)) == "1"
	}
	return false
}

// processAlive reports whether pid still runs and is the process that was
// started (same start time), not a zombie and not a reused pid.
func processAlive(pid int, start uint64) bool {
	st, state, err := procStat(pid)
	if err != nil || state == 'Z' || state == 'X' {
		return false
	}
	return start == 0 || st == start
}

// procStat returns the start time and state letter of /proc/<pid>/stat.
func procStat(pid int) (uint64, byte, error) {
	b, err := readFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+2:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return start, fields[0][0], nil
}

// stateOf turns a record into the State that `state` prints.
func (r *Runtime) stateOf(rec *record) *State {
	st := r.status(rec)
	pid := rec.Pid
	if st == specs.StateStopped {
		pid = 0
	}
	owner := "root"
	var fi unix.Stat_t
	if unix.Stat(r.dir(rec.ID), &fi) == nil && fi.Uid != 0 {
		owner = strconv.Itoa(int(fi.Uid))
	}
	return &State{
		Version: specs.Version, ID: rec.ID, Status: st, Pid: pid, Bundle: rec.Bundle,
		Rootfs: rec.Rootfs, Created: rec.Created, Annotations: rec.Annotations, Owner: owner,
	}
}

// ociState is the state given to hooks.
func (rec *record) ociState(status specs.ContainerState) *specs.State {
	return &specs.State{
		Version: specs.Version, ID: rec.ID, Status: status, Pid: rec.Pid,
		Bundle: rec.Bundle, Annotations: rec.Annotations,
	}
}

// readFile is os.ReadFile on plain descriptors, for the small files that
// status reads: an *os.File would register each of them (procfs and
// cgroupfs files count as pollable) with the Go runtime's poller, and set
// that up first, which a short command like pause pays for in full.
// Errors are *os.PathError, as os.ReadFile's.
func readFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	b := make([]byte, 0, 4096)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return b, nil
		}
		b = b[:len(b)+n]
	}
}
