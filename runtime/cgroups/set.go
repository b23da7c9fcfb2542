package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// LimitError reports a resource limit that could not be applied: its
// config.json field ("linux.resources.memory.limit"), the value asked for
// ("" when the error is not about one value) and the cause.
type LimitError struct {
	Field string
	Value string
	Err   error
}

func (e *LimitError) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s %s: %v", e.Field, e.Value, e.Err)
}

func (e *LimitError) Unwrap() error { return e.Err }

// InvalidArgument marks the error as the caller's fault, for errdefs.
func (e *LimitError) InvalidArgument() {}

// ErrNotMounted is the cause in a LimitError for a limit whose controller
// is not available to the container.
var ErrNotMounted = errors.New("controller not mounted")

// notMounted says which controller a field needs.
func notMounted(field, controller string) error {
	return &LimitError{Field: field, Err: fmt.Errorf("%s %w", controller, ErrNotMounted)}
}

// op is one write of a resource limit into a cgroupfs file.
type op struct {
	field string // config.json field, for errors
	value string // the value asked for, for errors
	dir   string
	file  string
	data  string
	// retryAfterNext: when the kernel refuses the write with EINVAL, try
	// it again after the next write (period before quota, as runc does).
	retryAfterNext bool
	// undoFrom is the file whose content undo reads before the write; ""
	// means file itself.
	undoFrom string
	// undo turns that content into the writes that restore it; nil means
	// writing the trimmed content back to file. noUndo skips it.
	undo   func(old string) []restore
	noUndo bool
}

// restore is one write that undoes part of an applied op.
type restore struct{ file, data string }

// plan is what Set will do: writes in order, then final steps (which have
// no undo of their own and run last).
type plan struct {
	ops   []op
	final []func() error
}

// Set applies the limits of r to the container's cgroup. Every limit is
// checked against the mounted controllers before anything is written; a
// limit for a controller the container does not have fails with an error
// naming the field and the controller. Writes are ordered so that limits
// can be both lowered and raised; if one fails, the values written before it
// are put back as they were. A nil r changes nothing.
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	p, err := m.plan(r)
	if err != nil {
		return err
	}
	return m.run(p)
}

// plan turns r into writes, controller by controller.
func (m *Manager) plan(r *specs.LinuxResources) (*plan, error) {
	p := &plan{}
	steps := []func(*plan, *specs.LinuxResources) error{
		m.planMemory, m.planCPU, m.planCpuset, m.planPids, m.planBlockIO,
		m.planHugetlb, m.planNetwork, m.planRdma, m.planUnified, m.planDevices,
	}
	for _, step := range steps {
		if err := step(p, r); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// run applies p, undoing what it wrote when a write fails.
func (m *Manager) run(p *plan) error {
	var undo [][]restore
	var deferred []int
	for i := range p.ops {
		o := &p.ops[i]
		u, err := m.do(o)
		if err != nil && o.retryAfterNext && i+1 < len(p.ops) && errors.Is(err, unix.EINVAL) {
			deferred = append(deferred, i)
			continue
		}
		if err != nil {
			m.rollback(undo)
			return o.fail(err)
		}
		undo = append(undo, u)
		for _, d := range deferred {
			u, err := m.do(&p.ops[d])
			if err != nil {
				m.rollback(undo)
				return p.ops[d].fail(err)
			}
			undo = append(undo, u)
		}
		deferred = nil
	}
	for _, f := range p.final {
		if err := f(); err != nil {
			m.rollback(undo)
			return err
		}
	}
	return nil
}

// do performs one op and returns how to undo it.
func (m *Manager) do(o *op) ([]restore, error) {
	var u []restore
	if !o.noUndo {
		from := o.undoFrom
		if from == "" {
			from = o.file
		}
		old, err := os.ReadFile(filepath.Join(o.dir, from))
		switch {
		case err == nil && o.undo != nil:
			u = o.undo(string(old))
		case err == nil:
			u = []restore{{o.file, strings.TrimSpace(string(old))}}
		}
	}
	for i := range u {
		u[i].file = filepath.Join(o.dir, u[i].file)
	}
	return u, m.write(filepath.Join(o.dir, o.file), o.data)
}

// rollback puts back what the applied ops changed, last first.
func (m *Manager) rollback(undo [][]restore) {
	for i := len(undo) - 1; i >= 0; i-- {
		for _, r := range undo[i] {
			if err := m.write(r.file, r.data); err != nil {
				slog.Warn("restore cgroup limit", "file", r.file, "value", r.data, "err", err)
			}
		}
	}
}

// write writes data into a cgroupfs file, through the test hook if set.
func (m *Manager) write(path, data string) error {
	if m.writeHook != nil {
		return m.writeHook(path, data)
	}
	return writeFile(path, data)
}

// fail builds the error of a failed write: field, value and the bare
// errno, "write memory.limit_in_bytes: invalid argument".
func (o *op) fail(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	err = fmt.Errorf("write %s: %w", o.file, err)
	if errors.Is(err, unix.EBUSY) && o.file == "memory.limit_in_bytes" {
		if usage, rerr := readUint(o.dir, "memory.usage_in_bytes"); rerr == nil {
			err = fmt.Errorf("%w (current usage %d bytes)", err, usage)
		}
	}
	return &LimitError{Field: o.field, Value: o.value, Err: err}
}

// v2Dir returns the container's directory when it lives on cgroup v2 alone
// (a pure v2 host). On v1 and hybrid hosts limits go to the v1
// controllers, as runc does, and this reports false.
func (m *Manager) v2Dir() (string, bool) {
	if len(m.paths) != 1 {
		return "", false
	}
	dir, ok := m.paths[UnifiedKey]
	return dir, ok
}

// controllerDir returns the directory where the limits of controller are
// written, or an error naming field when the container does not have it:
// on v1 a mounted hierarchy must carry it; on v2 the cgroup's
// cgroup.controllers must list it.
func (m *Manager) controllerDir(field, controller string) (string, error) {
	if dir, ok := m.v2Dir(); ok {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if err != nil || !slices.Contains(strings.Fields(string(data)), controller) {
			return "", &LimitError{Field: field, Err: fmt.Errorf(
				"%s %w (not enabled in cgroup v2: missing from %s/cgroup.controllers)",
				controller, ErrNotMounted, dir)}
		}
		return dir, nil
	}
	dir, ok := m.paths[controller]
	if !ok {
		return "", notMounted(field, controller)
	}
	return dir, nil
}

// readUint reads a cgroupfs file holding one unsigned number.
func readUint(dir, file string) (uint64, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(data))
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", file, err)
	}
	return v, nil
}

// exists reports whether dir/file exists.
func exists(dir, file string) bool {
	_, err := os.Stat(filepath.Join(dir, file))
	return err == nil
}

// itoa and utoa format numbers for cgroupfs.
func itoa(v int64) string  { return strconv.FormatInt(v, 10) }
func utoa(v uint64) string { return strconv.FormatUint(v, 10) }

// v2Num formats a v1-style number for a v2 ".max"-like file: -1 is "max".
func v2Num(v int64) string {
	if v == -1 {
		return "max"
	}
	return itoa(v)
}
