package build

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
)

// message is one object of the classic builder's JSON stream.
type message struct {
	Stream      string       `json:"stream,omitempty"`
	Aux         *aux         `json:"aux,omitempty"`
	ErrorDetail *errorDetail `json:"errorDetail,omitempty"`
	Error       string       `json:"error,omitempty"`
}

type aux struct {
	ID string `json:"ID"`
}

type errorDetail struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message"`
}

// progress writes the JSON stream. Quiet keeps the step output back and
// shows it only if the build fails, as docker build -q does.
type progress struct {
	mu    sync.Mutex
	enc   *json.Encoder
	quiet bool
	held  bytes.Buffer
	to    func(message) // a stage's lane, where it sends instead of enc
}

func newProgress(w io.Writer, quiet bool) *progress {
	return &progress{enc: json.NewEncoder(w), quiet: quiet}
}

func (p *progress) send(m message) {
	if p.to != nil {
		p.to(m)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.quiet && m.Stream != "" {
		p.held.WriteString(m.Stream)
		return
	}
	_ = p.enc.Encode(m) // a client gone is noticed through the context
}

// printf sends one line of progress.
func (p *progress) printf(format string, args ...any) {
	p.send(message{Stream: fmt.Sprintf(format, args...) + "\n"})
}

// Write sends a RUN step's output as it comes.
func (p *progress) Write(b []byte) (int, error) {
	p.send(message{Stream: string(b)})
	return len(b), nil
}

// image announces the built image's ID (the CLI's --iidfile reads the aux
// message); a quiet build prints it as its only output, which is where
// docker build -q takes it from.
func (p *progress) image(id string) {
	p.send(message{Aux: &aux{ID: id}})
	if p.quiet {
		p.mu.Lock()
		defer p.mu.Unlock()
		_ = p.enc.Encode(message{Stream: id + "\n"})
	}
}

// fail ends the stream with err, after the held output of a quiet build.
func (p *progress) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.quiet && p.held.Len() > 0 {
		_ = p.enc.Encode(message{Stream: p.held.String()})
	}
	msg := strings.TrimSpace(err.Error())
	d := &errorDetail{Message: msg}
	var ee *ExitError
	if asExit(err, &ee) {
		d.Code = ee.Code
	}
	_ = p.enc.Encode(message{ErrorDetail: d, Error: msg})
}

// shortID is the 12 hex digits docker shows of an image or container ID.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
