package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
)

type eventsOptions struct {
	since, until, format string
	filter               filterFlag
}

func (c *cli) eventsCommand() *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:         "events [OPTIONS]",
		Short:       "Get real time events from the server",
		Args:        noArgs,
		Annotations: map[string]string{"aliases": "corral system events, corral events"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.events(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.since, "since", "", "Show all events created since timestamp")
	f.StringVar(&o.until, "until", "", "Stream events until this timestamp")
	f.VarP(&o.filter, "filter", "f", "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", inspectFormatHelp)
	return cmd
}

// eventView is an event as docker's CLI holds it: with the fields the
// daemon wrote before API 1.52 (status, id, from), which templates and
// JSON output show.
type eventView struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`
	events.Message
}

func viewOf(m events.Message) *eventView {
	v := &eventView{Message: m}
	if m.Type == events.ContainerEventType || m.Type == events.ImageEventType {
		v.Status, v.ID = string(m.Action), m.Actor.ID
	}
	if m.Type == events.ContainerEventType {
		v.From = m.Actor.Attributes["image"]
	}
	return v
}

// eventsTemplate parses --format and tries it on an empty event, so that
// a bad field fails before any event comes.
func eventsTemplate(format string) (*template.Template, error) {
	switch format {
	case "":
		return nil, nil
	case jsonFormat:
		format = "{{json .}}"
	}
	tmpl, err := template.New("").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, err
	}
	return tmpl, tmpl.Execute(io.Discard, &eventView{})
}

// events prints the engine's events as they come, until --until passes
// or the command is interrupted.
func (c *cli) events(ctx context.Context, o eventsOptions) error {
	tmpl, err := eventsTemplate(o.format)
	if err != nil {
		return statusError{code: 64, msg: "Error parsing format: " + err.Error()}
	}
	opts := api.EventsOptions{Filters: o.filter.f}
	now := time.Now()
	if opts.Since, err = eventTimestamp(o.since, now); err != nil {
		return err
	}
	if opts.Until, err = eventTimestamp(o.until, now); err != nil {
		return err
	}
	ea, err := c.engineAPI(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs, errs := ea.Events(ctx, opts)
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				msgs = nil
				continue
			}
			if err := c.printEvent(m, tmpl); err != nil {
				return err
			}
		case err := <-errs:
			return err
		}
	}
}

// timeNanoFixed is RFC 3339 with nine digits of nanoseconds always.
const timeNanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// printEvent prints "TIME TYPE ACTION ID (k=v, ...)" or the template.
func (c *cli) printEvent(m events.Message, tmpl *template.Template) error {
	if tmpl != nil {
		defer fmt.Fprintln(c.out)
		return tmpl.Execute(c.out, viewOf(m))
	}
	var sb strings.Builder
	switch {
	case m.TimeNano != 0:
		sb.WriteString(time.Unix(0, m.TimeNano).Format(timeNanoFixed) + " ")
	case m.Time != 0:
		sb.WriteString(time.Unix(m.Time, 0).Format(timeNanoFixed) + " ")
	}
	fmt.Fprintf(&sb, "%s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(m.Actor.Attributes))
		for k := range m.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		kv := make([]string, len(keys))
		for i, k := range keys {
			kv[i] = k + "=" + m.Actor.Attributes[k]
		}
		sb.WriteString(" (" + strings.Join(kv, ", ") + ")")
	}
	sb.WriteString("\n")
	_, err := io.WriteString(c.out, sb.String())
	return err
}

// eventTimestamp reads --since and --until as docker does: a duration
// before now ("10m"), a date or time in RFC 3339 forms (local time
// without a zone), or Unix seconds with an optional fraction. "" is the
// zero time.
func eventTimestamp(value string, now time.Time) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	return parseTimestamp(value, now)
}
