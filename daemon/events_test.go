package daemon

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// collect reads what ch has within a short while, or until it closes.
func collect(ch <-chan events.Message, wait time.Duration) (got []string, closed bool) {
	timeout := time.After(wait)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				return got, true
			}
			got = append(got, fmt.Sprintf("%s %s %s", m.Type, m.Action, m.Actor.ID))
		case <-timeout:
			return got, false
		}
	}
}

func TestEventsLiveAndFiltered(t *testing.T) {
	t.Parallel()
	e := NewEvents()
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	all, err := e.Subscribe(ctx, api.EventsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tags, err := e.Subscribe(ctx, api.EventsOptions{Filters: api.NewFilters("type", "image", "event", "tag")})
	if err != nil {
		t.Fatal(err)
	}
	byImage, _ := e.Subscribe(ctx, api.EventsOptions{Filters: api.NewFilters("image", "busybox")})
	byContainer, _ := e.Subscribe(ctx, api.EventsOptions{Filters: api.NewFilters("container", "abc")})
	e.image(events.ActionPull, "busybox:latest", "busybox")
	e.image(events.ActionTag, "sha256:1", "web:1")
	e.Publish(events.Message{Type: events.ContainerEventType, Action: events.ActionHealthStatusHealthy,
		Actor: events.Actor{ID: "abcdef", Attributes: map[string]string{"image": "busybox:latest"}}})
	cancel()
	checks := []struct {
		ch   <-chan events.Message
		want string
	}{
		{all, "image pull busybox:latest,image tag sha256:1,container health_status: healthy abcdef"},
		{tags, "image tag sha256:1"},
		{byImage, "image pull busybox:latest,container health_status: healthy abcdef"},
		{byContainer, "container health_status: healthy abcdef"},
	}
	for i, c := range checks {
		got, closed := collect(c.ch, 5*time.Second)
		if strings.Join(got, ",") != c.want || !closed {
			t.Errorf("subscription %d: %q (closed %v), want %q", i, got, closed, c.want)
		}
	}
}

func TestEventsSinceUntil(t *testing.T) {
	t.Parallel()
	e := NewEvents()
	defer e.Close()
	start := time.Now()
	e.image(events.ActionPull, "a:1", "a")
	e.image(events.ActionDelete, "sha256:2", "sha256:2")
	// Past events only: the stream ends at once.
	ch, err := e.Subscribe(context.Background(), api.EventsOptions{Since: start, Until: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if got, closed := collect(ch, 5*time.Second); strings.Join(got, ",") != "image pull a:1,image delete sha256:2" || !closed {
		t.Errorf("since/until in the past: %q closed %v", got, closed)
	}
	// Past events, then live ones until the deadline.
	ch, _ = e.Subscribe(context.Background(), api.EventsOptions{Since: start, Until: time.Now().Add(300 * time.Millisecond),
		Filters: api.NewFilters("event", "delete")})
	e.image(events.ActionDelete, "sha256:3", "sha256:3")
	if got, closed := collect(ch, 5*time.Second); strings.Join(got, ",") != "image delete sha256:2,image delete sha256:3" || !closed {
		t.Errorf("since, then live until: %q closed %v", got, closed)
	}
	if _, err := e.Subscribe(context.Background(), api.EventsOptions{Filters: api.NewFilters("bogus", "1")}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad filter: %v", err)
	}
}

func TestEventsClose(t *testing.T) {
	t.Parallel()
	e := NewEvents()
	ch, _ := e.Subscribe(context.Background(), api.EventsOptions{})
	e.Close()
	e.Close()
	e.image(events.ActionPull, "late:1", "late")
	if got, closed := collect(ch, 5*time.Second); len(got) != 0 || !closed {
		t.Errorf("after Close: %q closed %v", got, closed)
	}
	ch, _ = e.Subscribe(context.Background(), api.EventsOptions{})
	if _, closed := collect(ch, 5*time.Second); !closed {
		t.Error("a subscription to a closed bus stays open")
	}
}

func TestEventsSlowSubscriber(t *testing.T) {
	t.Parallel()
	e := NewEvents()
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ch, _ := e.Subscribe(ctx, api.EventsOptions{})
	for i := range subscriberBuffer + 10 {
		e.image(events.ActionPull, fmt.Sprintf("x:%d", i), "x") // never blocks
	}
	cancel()
	if got, _ := collect(ch, 5*time.Second); len(got) != subscriberBuffer {
		t.Errorf("slow subscriber got %d events, want the first %d", len(got), subscriberBuffer)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.past) != subscriberBuffer+10 {
		t.Errorf("kept %d past events", len(e.past))
	}
}
