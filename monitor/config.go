package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/corral-dev/corral/errdefs"
)

// Files in a monitor's directory, StateDir/ID.
const (
	configFile = "monitor.json" // the Config the monitor runs with
	socketFile = "monitor.sock" // the control socket, 0600
	pidFile    = "monitor.pid"  // "PID STARTTIME" of the monitor process
	exitFile   = "exit.json"    // ExitStatus, written once the container exited
	// DefaultLogName is the log file's name when LogConfig.Path is empty.
	DefaultLogName = "container-json.log"
)

// Defaults of LogConfig and Config, as Docker's json-file with rotation on.
const (
	DefaultLogMaxSize   = 10 << 20
	DefaultLogMaxFiles  = 3
	DefaultAttachBuffer = 1 << 20
)

// Config says what one monitor runs and how. It is saved in the monitor's
// directory, so a daemon that restarts can read it back (LoadConfig).
type Config struct {
	// ID names the container for the runtime and the monitor's directory.
	ID string `json:"id"`
	// StateDir holds one directory per monitor: StateDir/ID.
	StateDir string `json:"stateDir"`
	// Bundle is the OCI bundle; process.terminal in its config.json says
	// whether the container gets a pty.
	Bundle string `json:"bundle"`
	// RuntimeRoot is the runtime's state root ("" for runtime.DefaultRoot).
	RuntimeRoot string `json:"runtimeRoot,omitempty"`
	// Binary is the corral binary (default: this process's executable).
	// The monitor is corral-monitor beside it (or Binary itself when it is
	// corral-monitor); it drives the runtime corral-runc beside it, else
	// `Binary runtime`.
	Binary string `json:"binary,omitempty"`
	// OpenStdin keeps a stdin pipe open for attach; StdinOnce closes it
	// when the first attached client ends its input or detaches.
	OpenStdin bool `json:"openStdin,omitempty"`
	StdinOnce bool `json:"stdinOnce,omitempty"`
	// NoDelete leaves the exited container in the runtime, stopped: the
	// caller deletes it (DeleteFromRuntime) once it has read the exit.
	// The monitor would otherwise start a runtime process for the delete
	// before it records the exit, and the exit waits for it.
	NoDelete bool `json:"noDelete,omitempty"`
	// ConsoleSize is the pty's initial [height, width], with a terminal.
	ConsoleSize [2]uint16 `json:"consoleSize,omitempty"`
	// AttachBuffer bounds the output queued for one attached client that
	// does not keep up; past it the output waits for the client. 0 means
	// DefaultAttachBuffer.
	AttachBuffer int       `json:"attachBuffer,omitempty"`
	Log          LogConfig `json:"log"`
	// Debug, when set, is a file the monitor writes its own log to.
	Debug string `json:"debug,omitempty"`
}

// LogConfig is where the container's output is logged: a json-file log
// with rotation, or a syslog receiver.
type LogConfig struct {
	// Driver is "json-file" (the default), "syslog" or "none".
	Driver string `json:"driver,omitempty"`
	// Path of the current file; rotated ones are Path.1, Path.2, ...
	// Default: StateDir/ID/DefaultLogName.
	Path string `json:"path,omitempty"`
	// MaxSize is the size at which the file rotates: 0 means
	// DefaultLogMaxSize, negative means never.
	MaxSize int64 `json:"maxSize,omitempty"`
	// MaxFiles is how many files are kept, the current one included: 0
	// means DefaultLogMaxFiles.
	MaxFiles int `json:"maxFiles,omitempty"`
	// Syslog is where the syslog driver sends the output (syslog.go).
	Syslog *SyslogConfig `json:"syslog,omitempty"`
}

// Dir is the monitor's directory.
func (c *Config) Dir() string { return filepath.Join(c.StateDir, c.ID) }

// LogPath is where the log is written ("" with the none and syslog
// drivers).
func (c *Config) LogPath() string {
	if c.Log.Driver == "none" || c.Log.Driver == "syslog" {
		return ""
	}
	if c.Log.Path != "" {
		return c.Log.Path
	}
	return filepath.Join(c.Dir(), DefaultLogName)
}

// withDefaults fills in the defaults and checks the config.
func (c Config) withDefaults() (Config, error) {
	if err := checkID(c.ID); err != nil {
		return c, err
	}
	if c.StateDir == "" || c.Bundle == "" {
		return c, errdefs.InvalidArgument(errors.New("monitor config: StateDir and Bundle are required"))
	}
	var err error
	for _, p := range []*string{&c.StateDir, &c.Bundle, &c.Log.Path, &c.RuntimeRoot} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return c, fmt.Errorf("monitor config: %w", err)
			}
		}
	}
	if err := c.Log.check(); err != nil {
		return c, errdefs.InvalidArgument(fmt.Errorf("monitor config: %w", err))
	}
	if c.Log.MaxSize == 0 {
		c.Log.MaxSize = DefaultLogMaxSize
	}
	if c.Log.MaxFiles <= 0 {
		c.Log.MaxFiles = DefaultLogMaxFiles
	}
	if c.AttachBuffer <= 0 {
		c.AttachBuffer = DefaultAttachBuffer
	}
	if c.Binary == "" {
		if c.Binary, err = os.Executable(); err != nil {
			return c, fmt.Errorf("monitor config: find the corral binary: %w", err)
		}
	}
	return c, nil
}

// checkID accepts what the runtime accepts as a container id, and nothing
// that could leave StateDir.
func checkID(id string) error {
	ok := id != "" && len(id) <= 128 && id != "." && id != ".."
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("_+-.", c) >= 0
	}
	if !ok {
		return errdefs.InvalidArgument(fmt.Errorf("invalid container id %q", id))
	}
	return nil
}

// LoadConfig reads back the Config a monitor was started with.
func LoadConfig(stateDir, id string) (*Config, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(stateDir, id, configFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errdefs.NotFound(fmt.Errorf("monitor %s: %w", id, err))
		}
		return nil, fmt.Errorf("read monitor config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("read monitor config: %w", err)
	}
	return &c, nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, synced, then renamed over it.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
