package daemon

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// Sizes of the event bus.
const (
	// maxEventLog is how many past events are kept for subscribers that
	// ask for them (since=), as dockerd keeps 256 or more.
	maxEventLog = 1024
	// subscriberBuffer is how many events a subscriber may fall behind
	// before it loses some.
	subscriberBuffer = 256
)

// Events is the engine's event bus: services publish, GET /events
// subscribes. It keeps the last maxEventLog events for subscribers that ask
// for past ones.
type Events struct {
	// mu guards everything below; Publish sends to subscribers with it
	// held, so that a subscription never gets an event after it closed.
	mu     sync.Mutex
	past   []events.Message
	subs   map[*subscription]struct{}
	closed bool
	// done is closed by Close.
	done chan struct{}
}

type subscription struct {
	ch      chan events.Message
	filters api.Filters
	until   time.Time
}

// NewEvents returns an empty bus.
func NewEvents() *Events {
	return &Events{subs: map[*subscription]struct{}{}, done: make(chan struct{})}
}

// Publish stamps m with the time and local scope, keeps it and sends it to
// every subscriber whose filters it matches. A subscriber that has fallen
// subscriberBuffer events behind loses it.
func (e *Events) Publish(m events.Message) {
	now := time.Now()
	m.Scope, m.Time, m.TimeNano = "local", now.Unix(), now.UnixNano()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if len(e.past) == maxEventLog {
		e.past = append(e.past[:0], e.past[1:]...)
	}
	e.past = append(e.past, m)
	for s := range e.subs {
		if matchEvent(s.filters, m) {
			select {
			case s.ch <- m:
			default:
			}
		}
	}
}

// image publishes an image event: id is the image's ID or reference, name
// its "name" attribute.
func (e *Events) image(action events.Action, id, name string) {
	if e == nil {
		return
	}
	e.Publish(events.Message{Type: events.ImageEventType, Action: action,
		Actor: events.Actor{ID: id, Attributes: map[string]string{"name": name}}})
}

// Subscribe answers the events matching opts.Filters: past ones from
// opts.Since (if set), then live ones. The channel closes when ctx ends,
// opts.Until passes (at once if it has passed) or the bus closes.
func (e *Events) Subscribe(ctx context.Context, opts api.EventsOptions) (<-chan events.Message, error) {
	if err := opts.Filters.Validate("container", "event", "image", "label", "type", "volume", "network",
		"daemon", "plugin", "node", "service", "secret", "config", "scope"); err != nil {
		return nil, errdefs.InvalidArgument(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	replay := e.replay(opts)
	s := &subscription{ch: make(chan events.Message, len(replay)+subscriberBuffer), filters: opts.Filters, until: opts.Until}
	for _, m := range replay {
		s.ch <- m
	}
	if e.closed || !opts.Until.IsZero() && !opts.Until.After(time.Now()) {
		close(s.ch)
		return s.ch, nil
	}
	e.subs[s] = struct{}{}
	go e.end(ctx, s)
	return s.ch, nil
}

// replay is the past events a subscription asks for.
func (e *Events) replay(opts api.EventsOptions) []events.Message {
	var out []events.Message
	if opts.Since.IsZero() {
		return nil
	}
	for _, m := range e.past {
		t := time.Unix(0, m.TimeNano)
		if t.Before(opts.Since) || !opts.Until.IsZero() && t.After(opts.Until) {
			continue
		}
		if matchEvent(opts.Filters, m) {
			out = append(out, m)
		}
	}
	return out
}

// end closes s when ctx ends or its until passes.
func (e *Events) end(ctx context.Context, s *subscription) {
	var timeout <-chan time.Time
	if !s.until.IsZero() {
		t := time.NewTimer(time.Until(s.until))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
	case <-timeout:
	case <-e.done:
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.subs[s]; ok {
		delete(e.subs, s)
		close(s.ch)
	}
}

// Close ends every subscription; later events are dropped.
func (e *Events) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.closed = true
	close(e.done)
	for s := range e.subs {
		delete(e.subs, s)
		close(s.ch)
	}
}

// matchEvent applies dockerd's event filters to m.
func matchEvent(f api.Filters, m events.Message) bool {
	action, _, _ := strings.Cut(string(m.Action), ":")
	return f.ExactMatch("type", string(m.Type)) &&
		(f.ExactMatch("event", string(m.Action)) || f.ExactMatch("event", action)) &&
		f.ExactMatch("scope", m.Scope) &&
		f.MatchLabels("label", m.Actor.Attributes) &&
		matchImage(f, m) &&
		matchName(f, m, events.ContainerEventType) && matchName(f, m, events.NetworkEventType) &&
		matchName(f, m, events.VolumeEventType) && matchName(f, m, events.PluginEventType) &&
		matchName(f, m, events.DaemonEventType)
}

// matchName: a filter on objects of type t (container=, network=, ...)
// keeps only events of such objects whose ID or name it names, as a prefix.
func matchName(f api.Filters, m events.Message, t events.Type) bool {
	key := string(t)
	if !f.Include(key) {
		return true
	}
	return m.Type == t && (f.FuzzyMatch(key, m.Actor.ID) || f.FuzzyMatch(key, m.Actor.Attributes["name"]))
}

// matchImage: image= matches an image event's ID or name, or a container
// event's image, with or without the tag.
func matchImage(f api.Filters, m events.Message) bool {
	if !f.Include("image") {
		return true
	}
	name := m.Actor.Attributes["image"]
	if m.Type == events.ImageEventType {
		name = m.Actor.Attributes["name"]
	}
	for _, v := range []string{m.Actor.ID, name, stripTag(m.Actor.ID), stripTag(name)} {
		if v != "" && f.ExactMatch("image", v) {
			return true
		}
	}
	return false
}

// stripTag is a reference without its tag, in its familiar form.
func stripTag(s string) string {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return s
	}
	return reference.FamiliarName(reference.TrimNamed(named))
}
