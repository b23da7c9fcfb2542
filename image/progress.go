package image

import (
	"io"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// Progress is one progress event, as Docker's JSON messages carry them: ID
// is a layer's short digest (or a tag for whole-image messages, or ""),
// Action one of Docker's statuses ("Pulling fs layer", "Waiting",
// "Downloading", "Verifying Checksum", "Download complete", "Extracting",
// "Pull complete", "Already exists", "Preparing", "Pushing", "Pushed",
// "Layer already exists", "Mounted from <repo>", or whole-image lines such as
// "Pulling from library/busybox", "Digest: sha256:...", "Status: ...").
// Current and Total are bytes for "Downloading", "Extracting" and
// "Pushing".
type Progress struct {
	ID      string
	Action  string
	Current int64
	Total   int64
}

// Docker's layer statuses.
const (
	ActionPullingLayer     = "Pulling fs layer"
	ActionWaiting          = "Waiting"
	ActionDownloading      = "Downloading"
	ActionVerifying        = "Verifying Checksum"
	ActionDownloadComplete = "Download complete"
	ActionExtracting       = "Extracting"
	ActionPullComplete     = "Pull complete"
	ActionAlreadyExists    = "Already exists"
	ActionPreparing        = "Preparing"
	ActionPushing          = "Pushing"
	ActionPushed           = "Pushed"
	ActionLayerExists      = "Layer already exists"
	ActionLoading          = "Loading layer"
)

// ShortID is the 12 hex digits Docker shows for a digest.
func ShortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}

// reporter serialises progress callbacks, which come from several
// goroutines.
type reporter struct {
	mu sync.Mutex
	fn func(Progress)
	// extract is the action of unpacking a layer: "Extracting", or
	// "Loading layer" for Load.
	extract string
}

func newReporter(fn func(Progress)) *reporter { return &reporter{fn: fn, extract: ActionExtracting} }

// extractAction is the action reported while unpacking a layer.
func (r *reporter) extractAction() string {
	if r == nil {
		return ActionExtracting
	}
	return r.extract
}

func (r *reporter) send(p Progress) {
	if r == nil || r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fn(p)
}

func (r *reporter) status(id, action string) { r.send(Progress{ID: id, Action: action}) }

// progressInterval is the least time between two byte-count events of one
// stream.
const progressInterval = 100 * time.Millisecond

// progressReader reports the bytes read through it.
type progressReader struct {
	r      io.Reader
	rep    *reporter
	id     string
	action string
	total  int64
	n      int64
	last   time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if now := time.Now(); now.Sub(p.last) >= progressInterval || (err == io.EOF && p.n > 0) {
		p.last = now
		p.rep.send(Progress{ID: p.id, Action: p.action, Current: p.n, Total: p.total})
	}
	return n, err
}
