// Package container owns the engine's container records: what a container
// is (Container, State), the rules of its life (State.Check and the Set*
// transitions, ShouldRestart's restart policy and backoff), its identity
// (NewID, ValidateName, generated names) and where records live (Store: one
// JSON file per container, written atomically, indexed in memory by ID, ID
// prefix and name, filtered as `docker ps` filters). Summary and Inspect turn
// a record into the Docker Engine API's views.
//
// The daemon sequences verbs across domains; this package only keeps the
// data and says what is allowed. Records held by the Store are immutable:
// change one with Store.Update, which works on a copy and swaps it in once
// it is on disk.
//
// Refusals carry errdefs classes and dockerd's wording (the 20.10 daemon
// this machine runs as a reference), so the API server maps them to the
// status codes the docker CLI acts on.
package container

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/errdefs"
)

// Container is one container's record, as stored. Config, HostConfig,
// NetworkSettings and Mounts are the Engine API's types so that they reach
// `docker inspect` unchanged.
type Container struct {
	// ID is 64 lowercase hex digits (NewID).
	ID string
	// Name is the container's name with its leading "/" ("/web").
	Name string
	// Created is when the container was created (UTC).
	Created time.Time
	// Path and Args are the command the container runs: the image's
	// entrypoint and cmd merged with the create request's, first word in
	// Path.
	Path string
	Args []string
	// Image is the image as the user typed it ("busybox"); ImageID is what
	// it resolved to at create ("sha256:...").
	Image   string
	ImageID string
	// Platform is the image's OS ("linux").
	Platform string

	Config          *container.Config
	HostConfig      *container.HostConfig
	NetworkSettings *container.NetworkSettings `json:",omitempty"`
	// Mounts are the container's volumes and bind mounts as resolved at
	// create; `ps --filter volume` reads them.
	Mounts []container.MountPoint `json:",omitempty"`

	// Driver is the snapshotter that holds the rootfs ("overlayfs") and
	// SnapshotKey its key for the container's writable snapshot.
	Driver      string `json:",omitempty"`
	SnapshotKey string `json:",omitempty"`
	// BundlePath is the OCI bundle the runtime is given; StatePath is the
	// runtime's and the monitor's state directory (both under /run).
	BundlePath string `json:",omitempty"`
	StatePath  string `json:",omitempty"`
	// LogPath is the json-file log; ResolvConfPath, HostnamePath and
	// HostsPath are the files bind-mounted over the image's.
	LogPath        string `json:",omitempty"`
	ResolvConfPath string `json:",omitempty"`
	HostnamePath   string `json:",omitempty"`
	HostsPath      string `json:",omitempty"`

	// RestartCount is how often the restart policy restarted the container
	// since the user last started it; RestartDelay is the backoff delay used
	// for the last of those restarts (ShouldRestart).
	RestartCount int
	RestartDelay time.Duration `json:",omitempty"`
	// HasBeenStartedBefore is set on the first start; a created container
	// never comes back by itself when the daemon starts.
	HasBeenStartedBefore bool `json:",omitempty"`
	// HasBeenManuallyStopped is set when the user stops or kills the
	// container and cleared when the user starts it: restart policies then
	// leave it alone (unless-stopped even across daemon restarts).
	HasBeenManuallyStopped bool `json:",omitempty"`

	State State
}

// Labels returns the container's labels (Config.Labels), nil if none.
func (c *Container) Labels() map[string]string {
	if c.Config == nil {
		return nil
	}
	return c.Config.Labels
}

// RestartPolicy returns HostConfig.RestartPolicy ("no" when unset).
func (c *Container) RestartPolicy() container.RestartPolicy {
	if c.HostConfig == nil || c.HostConfig.RestartPolicy.Name == "" {
		return container.RestartPolicy{Name: container.RestartPolicyDisabled}
	}
	return c.HostConfig.RestartPolicy
}

// Backoff returns the container's restart bookkeeping, the input of
// ShouldRestart.
func (c *Container) Backoff() Backoff {
	return Backoff{Count: c.RestartCount, Delay: c.RestartDelay}
}

// SetBackoff stores what ShouldRestart decided.
func (c *Container) SetBackoff(b Backoff) {
	c.RestartCount, c.RestartDelay = b.Count, b.Delay
}

// UserStarted records a start asked for by the user (start, restart, run):
// as dockerd's, it forgets the restart count and backoff and the manual
// stop, and marks the container as started once.
func (c *Container) UserStarted() {
	c.RestartCount, c.RestartDelay = 0, 0
	c.HasBeenManuallyStopped = false
	c.HasBeenStartedBefore = true
}

// NewID returns a random container ID: 64 lowercase hex digits from
// crypto/rand. As dockerd's, it never returns an ID whose 12-digit short form
// parses as a number, so a short ID is never mistaken for one.
func NewID() string {
	b := make([]byte, 32)
	for {
		// crypto/rand.Read never fails (it panics if the kernel cannot
		// provide randomness).
		_, _ = rand.Read(b)
		id := hex.EncodeToString(b)
		if _, err := strconv.ParseFloat(ShortID(id), 64); err == nil {
			continue
		}
		return id
	}
}

// ShortID returns the 12-digit form of id that `docker ps` shows.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ValidateID fails unless id is 64 lowercase hex digits.
func ValidateID(id string) error {
	if len(id) != 64 {
		return errdefs.InvalidArgument(fmt.Errorf("invalid container ID %q: want 64 hex digits", id))
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return errdefs.InvalidArgument(fmt.Errorf("invalid container ID %q: want 64 hex digits", id))
		}
	}
	return nil
}
