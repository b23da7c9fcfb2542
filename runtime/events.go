package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/corral-dev/corral/runtime/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Event is one line of `events` output, in runc's format: {"type":"stats",
// "id":..., "data":{...}} or {"type":"oom","id":...}.
type Event struct {
	Type string      `json:"type"`
	ID   string      `json:"id"`
	Data *EventStats `json:"data,omitempty"`
}

// EventStats is the data of a stats event: the cgroup statistics plus the
// keys runc always prints and corral does not collect.
type EventStats struct {
	*cgroups.Stats
	IntelRdt          struct{} `json:"intel_rdt"`
	NetworkInterfaces []any    `json:"network_interfaces"`
}

// Events writes the container's events to w as JSON lines. With stats it
// writes one stats event and returns. Otherwise it writes a stats event
// every interval and an oom event whenever the kernel reports one, until
// ctx is done or the container stops.
func (r *Runtime) Events(ctx context.Context, id string, stats bool, interval time.Duration, w io.Writer) error {
	if interval <= 0 {
		return errors.New("events: the interval must be greater than 0")
	}
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	if r.status(rec) == specs.StateStopped {
		return fmt.Errorf("container %s is not running: %w", id, ErrBadState)
	}
	cg := cgroups.Load(rec.Cgroups)
	enc := json.NewEncoder(w)
	if stats {
		return emitStats(enc, cg, id)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ooms, err := cg.OOMEvents(ctx)
	if err != nil {
		slog.Warn("events: no OOM notifications", "id", id, "err", err)
	}
	return r.watch(ctx, rec, cg, ooms, interval, enc)
}

// watch writes a stats event every interval and an oom event for each one
// on ooms, until ctx is done, ooms closes or the container stops.
func (r *Runtime) watch(ctx context.Context, rec *record, cg *cgroups.Manager, ooms <-chan struct{},
	interval time.Duration, enc *json.Encoder) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-ooms:
			if !ok {
				return nil // the cgroup is gone
			}
			if err := enc.Encode(Event{Type: "oom", ID: rec.ID}); err != nil {
				return fmt.Errorf("events: %w", err)
			}
		case <-tick.C:
			if r.status(rec) == specs.StateStopped {
				return nil
			}
			if err := emitStats(enc, cg, rec.ID); err != nil {
				slog.Error("events: read stats", "id", rec.ID, "err", err)
			}
		}
	}
}

func emitStats(enc *json.Encoder, cg *cgroups.Manager, id string) error {
	st, err := cg.Stats()
	if err != nil {
		return fmt.Errorf("stats of %s: %w", id, err)
	}
	if err := enc.Encode(Event{Type: "stats", ID: id, Data: &EventStats{Stats: st}}); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	return nil
}
