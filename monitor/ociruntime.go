package monitor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/corral-dev/corral/errdefs"
)

// Programs that sit beside the corral binary (Config.Binary) when
// installed: the monitor (C, cmd/corral-monitor), and the OCI runtime on
// its own.
const (
	monitorProgram = "corral-monitor"
	runtimeProgram = "corral-runc"
)

// runtimeLog is the runtime's log in the monitor's directory: its warnings,
// and the errors the monitor reads back (runc's --log, in JSON lines).
const runtimeLog = "runtime.log"

// runtimeEnv is the whole environment of a runtime command: hooks that
// need a PATH get the usual one.
var runtimeEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// ociRuntime drives an OCI runtime through runc's command line, as the
// monitor (cmd/corral-monitor) does: corral-runc, or `corral runtime` when
// there is no corral-runc beside the corral binary. Recover uses it to
// remove the container of a monitor that died.
type ociRuntime struct {
	argv []string // the program, and its arguments before runc's
	root string   // --root ("" for the runtime's default)
	log  string   // --log, absolute; "" for none
	env  []string // the whole environment of its commands
}

// newOCIRuntime is the runtime for a monitor started with cfg, logging to
// runtimeLog in dir ("" for no log).
func newOCIRuntime(cfg *Config, dir string) *ociRuntime {
	r := &ociRuntime{argv: runtimeArgv(cfg.Binary), root: cfg.RuntimeRoot, env: runtimeEnv}
	if dir != "" {
		r.log = filepath.Join(dir, runtimeLog)
	}
	return r
}

// runtimeArgv finds the runtime for the corral binary: corral-runc beside
// it, else its own runtime command.
func runtimeArgv(binary string) []string {
	if p := besides(binary, runtimeProgram); p != "" {
		return []string{p}
	}
	return []string{binary, "runtime"}
}

// besides returns the executable file name in binary's directory, or "".
func besides(binary, name string) string {
	p := filepath.Join(filepath.Dir(binary), name)
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

// command is `runtime [--root R] [--log L --log-format json] args...`.
func (r *ociRuntime) command(args ...string) *exec.Cmd {
	argv := append([]string{}, r.argv[1:]...)
	if r.root != "" {
		argv = append(argv, "--root", r.root)
	}
	if r.log != "" {
		argv = append(argv, "--log", r.log, "--log-format", "json")
	}
	cmd := exec.Command(r.argv[0], append(argv, args...)...)
	cmd.Env = r.env
	return cmd
}

// run runs a command of the runtime, its stderr kept for the error.
func (r *ociRuntime) run(args ...string) error {
	cmd := r.command(args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return r.wait(cmd, args[0], &stderr)
}

// wait runs cmd and turns a failure into the runtime's own message (from
// its log, else its stderr), classed for the client.
func (r *ociRuntime) wait(cmd *exec.Cmd, op string, stderr *bytes.Buffer) error {
	var from int64
	if st, err := os.Stat(r.log); r.log != "" && err == nil {
		from = st.Size()
	}
	err := cmd.Run()
	if err == nil {
		return nil
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return fmt.Errorf("runtime %s: %w", op, err)
	}
	msg := r.lastError(from)
	if msg == "" && stderr != nil {
		msg = strings.TrimPrefix(strings.TrimSpace(stderr.String()), "corral: ")
	}
	if msg == "" {
		msg = strings.Join(r.argv, " ") + ": " + err.Error()
	}
	return classify(fmt.Errorf("runtime %s: %s", op, msg))
}

// lastError is the message of the last error the runtime logged past
// offset from.
func (r *ociRuntime) lastError(from int64) string {
	if r.log == "" {
		return ""
	}
	f, err := os.Open(r.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	var msg string
	s := bufio.NewScanner(io.NewSectionReader(f, from, 1<<20))
	for s.Scan() {
		var line struct{ Level, Msg string }
		if json.Unmarshal(s.Bytes(), &line) == nil && line.Level == "error" {
			msg = line.Msg
		}
	}
	return msg
}

// Messages of the runtime's error classes: corral's (runtime/errors.go,
// which a test keeps in step) and runc's.
var (
	conflictMessages = []string{
		"container does not exist", "container is in the wrong state", // corral
		"not running", "is paused", "is not paused", // runc
	}
	invalidMessages = []string{"invalid configuration"}
)

// classify gives a runtime failure its class for the client: a container
// that is gone or in the wrong state is a conflict, a bad configuration
// an invalid argument.
func classify(err error) error {
	msg := err.Error()
	for _, m := range conflictMessages {
		if strings.Contains(msg, m) {
			return errdefs.Conflict(err)
		}
	}
	for _, m := range invalidMessages {
		if strings.Contains(msg, m) {
			return errdefs.InvalidArgument(err)
		}
	}
	return err
}

// isNotExist tells a runtime failure for a container it does not know.
func isNotExist(err error) bool {
	return err != nil && strings.Contains(err.Error(), "does not exist")
}

// forceDelete removes container id from the runtime, killing it first if
// it still runs.
func (r *ociRuntime) forceDelete(id string) error {
	return r.run("delete", "--force", id)
}
