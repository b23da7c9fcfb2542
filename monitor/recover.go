package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/corral-dev/corral/errdefs"
	"golang.org/x/sys/unix"
)

// DeadMonitorExitCode is the exit code Recover records.
const DeadMonitorExitCode = 255

// Recover cleans up after a monitor that died (Connect or Wait returned
// ErrMonitorDead): the container would otherwise run on unsupervised, so
// it kills every process in the container's cgroup, removes it from the
// runtime and records the exit as DeadMonitorExitCode with an Error. A
// monitor that still answers is left alone (errdefs.ErrConflict); an exit
// already recorded is returned as it is.
//
// This is the daemon's half of "kill -9 of the monitor kills the
// container": the container's init cannot get a parent-death signal for
// the monitor (the runtime starts it from a thread that may end, and
// PR_SET_PDEATHSIG does not survive a change of credentials).
func Recover(ctx context.Context, stateDir, id string) (*ExitStatus, error) {
	c := &Client{ID: id, dir: filepath.Join(stateDir, id)}
	if err := checkID(id); err != nil {
		return nil, err
	}
	if conn, err := c.dial(ctx); err == nil {
		conn.Close()
		return nil, errdefs.Conflict(fmt.Errorf("the monitor of %s is alive", id))
	}
	if ex, err := readExit(c.dir); err == nil {
		return ex, nil
	}
	cfg, err := LoadConfig(stateDir, id)
	if err != nil {
		return nil, err
	}
	killMonitor(c.dir) // one that hangs without answering
	os.Remove(filepath.Join(c.dir, socketFile))
	if err := newOCIRuntime(cfg, c.dir).forceDelete(id); err != nil && !isNotExist(err) {
		return nil, fmt.Errorf("recover %s: %w", id, err)
	}
	ex := &ExitStatus{ExitCode: DeadMonitorExitCode, ExitedAt: time.Now().UTC(), Error: ErrMonitorDead.Error()}
	if err := writeExit(filepath.Join(c.dir, exitFile), ex); err != nil {
		return nil, err
	}
	return ex, nil
}

// killMonitor kills the monitor process recorded in dir if it still runs
// (same pid and start time).
func killMonitor(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		return
	}
	pid, err1 := strconv.Atoi(fields[0])
	start, err2 := strconv.ParseUint(fields[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return
	}
	if now, err := procStartTime(pid); err == nil && now == start {
		unix.Kill(pid, unix.SIGKILL)
	}
}

// Remove deletes the monitor's directory (its log too, when the log is in
// it) once the monitor is gone.
func Remove(ctx context.Context, stateDir, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	c := &Client{ID: id, dir: filepath.Join(stateDir, id)}
	if conn, err := c.dial(ctx); err == nil {
		conn.Close()
		return errdefs.Conflict(fmt.Errorf("the monitor of %s is alive", id))
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("remove monitor dir: %w", err)
	}
	return nil
}

// writeExit records how the container ended, as the monitor does.
func writeExit(path string, ex *ExitStatus) error {
	data, err := json.Marshal(ex)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o644)
}

// procStartTime reads a process's start time (field 22 of its stat).
func procStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	st := string(data)
	i := strings.LastIndexByte(st, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	fields := strings.Fields(st[i+1:])
	if len(fields) < 20 {
		return 0, errors.New("bad /proc stat")
	}
	return strconv.ParseUint(fields[19], 10, 64)
}
