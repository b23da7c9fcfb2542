package api

// The options of the container, exec, system and build calls: the query
// parameters of their requests, parsed, as the API server hands them to the
// daemon (which cannot import the server).

import (
	"io"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// ContainerCreateOptions are POST /containers/create: the name and
// platform query parameters and the body.
type ContainerCreateOptions struct {
	// Name is "" for a generated name.
	Name string
	// Platform is "os[/arch[/variant]]" or "".
	Platform         string
	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
}

// ContainerListOptions are GET /containers/json.
type ContainerListOptions struct {
	All bool
	// Limit is the number of most recent containers to answer; 0 or -1 is
	// no limit.
	Limit int
	// Size asks for SizeRw and SizeRootFs.
	Size    bool
	Filters Filters
}

// ContainerStopOptions are POST /containers/{id}/stop and restart.
type ContainerStopOptions struct {
	// Signal is the stop signal; "" means the container's own.
	Signal string
	// Timeout is the grace period in seconds before SIGKILL; nil means the
	// container's own, -1 waits forever.
	Timeout *int
}

// ContainerRemoveOptions are DELETE /containers/{id}.
type ContainerRemoveOptions struct {
	Force         bool
	RemoveVolumes bool
	RemoveLinks   bool
}

// ContainerLogsOptions are GET /containers/{id}/logs.
type ContainerLogsOptions struct {
	Follow     bool
	Stdout     bool
	Stderr     bool
	Timestamps bool
	// Details adds the log driver's attributes to each line.
	Details bool
	// Since and Until bound the lines by time; zero means no bound.
	Since time.Time
	Until time.Time
	// Tail is the number of last lines to answer; -1 is all.
	Tail int
}

// LogMessage is one line of a container's log.
type LogMessage struct {
	// Stream is "stdout" or "stderr".
	Stream string
	// Line includes its newline.
	Line      []byte
	Timestamp time.Time
	// Attrs are shown with ContainerLogsOptions.Details.
	Attrs map[string]string
	// Err, if set, is a failure to read the log; the server writes it to
	// the client and goes on.
	Err error
}

// ContainerStatsOptions are GET /containers/{id}/stats.
type ContainerStatsOptions struct {
	// Stream sends a sample every second until the client leaves;
	// otherwise one sample (with precpu_stats) is sent.
	Stream bool
	// OneShot, without Stream, sends one sample without waiting for a
	// second one (precpu_stats empty).
	OneShot bool
}

// Streams are the standard streams of an attach or an exec over a hijacked
// connection. Stdin is nil unless it was asked for; it reads what the
// client sends and ends (io.EOF) when the client half-closes its side;
// closing it stops reading the connection. Stdout and Stderr are nil unless
// asked for; without a TTY each write becomes one frame of the 8-byte
// header protocol, with one they are the same raw writer. A write fails
// once the client is gone.
type Streams struct {
	Stdin  io.ReadCloser
	Stdout io.Writer
	Stderr io.Writer
}

// StreamsFunc hijacks the connection and answers 101 UPGRADED: the backend
// calls it once it has checked the request (an error before that is an HTTP
// error status; after it, the error can only be written into the stream),
// saying whether the process has a TTY, which decides the framing. It may
// be called once.
type StreamsFunc func(tty bool) (Streams, error)

// ContainerAttachOptions are POST /containers/{id}/attach.
type ContainerAttachOptions struct {
	// Stream attaches to the live streams; Logs first replays the log.
	Stream bool
	Logs   bool
	Stdin  bool
	Stdout bool
	Stderr bool
	// DetachKeys overrides the default escape sequence (ctrl-p,ctrl-q).
	DetachKeys string
	// Streams gives the backend the client's streams.
	Streams StreamsFunc
}

// ExecStartOptions are POST /exec/{id}/start.
type ExecStartOptions struct {
	// Detach starts the process without streams (Streams is nil).
	Detach bool
	Tty    bool
	// ConsoleSize is the initial [height, width] of a TTY.
	ConsoleSize *[2]uint
	// Streams gives all three streams; the backend uses those the exec
	// was created to attach (AttachStdin, ...).
	Streams StreamsFunc
}

// ArchiveExtractOptions are PUT /containers/{id}/archive.
type ArchiveExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory by a
	// non-directory and the reverse.
	NoOverwriteDirNonDir bool
	// CopyUIDGID keeps the tar's owners rather than the container user.
	CopyUIDGID bool
}

// ContainerCommitOptions are POST /commit.
type ContainerCommitOptions struct {
	Container string
	// Repo and Tag name the new image; "" leaves it untagged.
	Repo    string
	Tag     string
	Author  string
	Comment string
	// Pause pauses the container during the commit.
	Pause bool
	// Changes are Dockerfile instructions applied to the config.
	Changes []string
	// Config, if not nil, is merged over the container's.
	Config *container.Config
}

// EventsOptions are GET /events.
type EventsOptions struct {
	// Since replays past events from then; Until ends the stream then.
	// Zero means no bound.
	Since   time.Time
	Until   time.Time
	Filters Filters
}

// BuildOptions are POST /build (the classic builder, version=1).
// BuildSecretsHeader carries BuildOptions.Secrets on POST /build: base64
// of the JSON object {id: base64 value}. Docker's classic protocol has no
// secret channel (docker 28 offers --secret only with BuildKit), so this
// header is corral's own.
const BuildSecretsHeader = "X-Corral-Build-Secrets"

type BuildOptions struct {
	Tags       []string
	Dockerfile string
	// BuildArgs are --build-arg; a nil value takes the variable from the
	// environment of the builder.
	BuildArgs   map[string]*string
	Labels      map[string]string
	NoCache     bool
	Pull        bool
	Quiet       bool
	Remove      bool
	ForceRemove bool
	NetworkMode string
	Target      string
	Platform    string
	CacheFrom   []string
	// RegistryConfig is the X-Registry-Config header: base64 JSON of the
	// registry credentials by host.
	RegistryConfig string
	// Secrets are the values of RUN --mount=type=secret by id (corral
	// build --secret; the classic protocol has none, so they travel in the
	// X-Corral-Build-Secrets header). Never logged nor stored.
	Secrets map[string][]byte `json:"-"`
}

// BuildPruneOptions are POST /build/prune's: all (every entry, not only
// those no image keeps) and filters.
type BuildPruneOptions struct {
	All     bool
	Filters Filters
}

// BuildCacheUsage sums build cache records as docker shows them: a shared
// record's size belongs to the images that keep it, an unused one's is
// reclaimable.
func BuildCacheUsage(recs []build.CacheRecord) *build.DiskUsage {
	du := &build.DiskUsage{Items: recs, TotalCount: int64(len(recs))}
	for _, r := range recs {
		if r.InUse {
			du.ActiveCount++
		}
		if !r.Shared {
			du.TotalSize += r.Size
			if !r.InUse {
				du.Reclaimable += r.Size
			}
		}
	}
	return du
}
