package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"
)

// message is one message of a JSON message stream, with the legacy fields
// older daemons send.
type message struct {
	jsonstream.Message
	ProgressMessage string `json:"progress,omitempty"`
	From            string `json:"from,omitempty"`
	Time            int64  `json:"time,omitempty"`
	TimeNano        int64  `json:"timeNano,omitempty"`
	ErrorMessage    string `json:"error,omitempty"`
}

// display renders a JSON message stream as docker does: on a terminal one
// line per layer, rewritten in place as its progress bar moves; otherwise
// plain lines, progress updates left out. An error message in the stream
// ends it with that error. aux, if not nil, receives the aux messages.
type display struct {
	out      io.Writer
	terminal bool
	width    int
	aux      func(json.RawMessage)
	now      func() time.Time
}

func (c *cli) display(out io.Writer) *display {
	return &display{out: out, terminal: isTerminal(out), width: termWidth(out), now: time.Now}
}

// run reads in to its end, or until ctx is done.
func (d *display) run(ctx context.Context, in io.Reader) error {
	dec := json.NewDecoder(&ctxReader{ctx: ctx, r: in})
	ids := map[string]int{}
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return ctx.Err()
			}
			return err
		}
		if m.Aux != nil {
			if d.aux != nil {
				d.aux(*m.Aux)
			}
			continue
		}
		var diff int
		if m.ID != "" && (m.Progress != nil || m.ProgressMessage != "") {
			line, ok := ids[m.ID]
			if !ok {
				line = len(ids)
				ids[m.ID] = line
				if d.terminal {
					fmt.Fprint(d.out, "\n")
				}
			}
			diff = len(ids) - line
			if d.terminal && diff > 0 {
				fmt.Fprintf(d.out, "\x1b[%dA", diff)
			}
		} else {
			ids = map[string]int{}
		}
		err := d.show(&m)
		if m.ID != "" && d.terminal && diff > 0 {
			fmt.Fprintf(d.out, "\x1b[%dB", diff)
		}
		if err != nil {
			return err
		}
	}
}

// show writes one message.
func (d *display) show(m *message) error {
	if m.Error != nil {
		return errors.New(m.Error.Message)
	}
	if m.ErrorMessage != "" {
		return errors.New(m.ErrorMessage)
	}
	endl := ""
	bar := ""
	if m.Progress != nil {
		bar = d.bar(m.Progress)
	}
	if d.terminal && m.Stream == "" && m.Progress != nil {
		fmt.Fprint(d.out, "\x1b[2K\r")
		endl = "\r"
	} else if m.Progress != nil && bar != "" {
		return nil // no progress bars off a terminal
	}
	if m.TimeNano != 0 {
		fmt.Fprintf(d.out, "%s ", time.Unix(0, m.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00"))
	} else if m.Time != 0 {
		fmt.Fprintf(d.out, "%s ", time.Unix(m.Time, 0).Format("2006-01-02T15:04:05.000000000Z07:00"))
	}
	if m.ID != "" {
		fmt.Fprintf(d.out, "%s: ", m.ID)
	}
	if m.From != "" {
		fmt.Fprintf(d.out, "(from %s) ", m.From)
	}
	switch {
	case m.Progress != nil && d.terminal:
		fmt.Fprintf(d.out, "%s %s%s", m.Status, bar, endl)
	case m.ProgressMessage != "":
		fmt.Fprintf(d.out, "%s %s%s", m.Status, m.ProgressMessage, endl)
	case m.Stream != "":
		fmt.Fprintf(d.out, "%s%s", m.Stream, endl)
	default:
		fmt.Fprintf(d.out, "%s%s\n", m.Status, endl)
	}
	return nil
}

// bar renders progress as docker's: "[=====>     ]  1.2MB/3.4MB 2s".
func (d *display) bar(p *jsonstream.Progress) string {
	if p.Current <= 0 && p.Total <= 0 {
		return ""
	}
	if p.Total <= 0 {
		if p.Units == "" {
			return fmt.Sprintf("%8v", units.HumanSize(float64(p.Current)))
		}
		return fmt.Sprintf("%d %s", p.Current, p.Units)
	}
	percent := min(int(float64(p.Current)/float64(p.Total)*100)/2, 50)
	var box, numbers, left string
	if d.width > 110 {
		box = fmt.Sprintf("[%s>%s] ", strings.Repeat("=", percent), strings.Repeat(" ", max(50-percent, 0)))
	}
	switch {
	case p.HideCounts:
	case p.Units == "":
		numbers = fmt.Sprintf("%8v/%v", units.HumanSize(float64(p.Current)), units.HumanSize(float64(p.Total)))
		if p.Current > p.Total {
			numbers = fmt.Sprintf("%8v", units.HumanSize(float64(p.Current)))
		}
	default:
		numbers = fmt.Sprintf("%d/%d %s", p.Current, p.Total, p.Units)
		if p.Current > p.Total {
			numbers = fmt.Sprintf("%d %s", p.Current, p.Units)
		}
	}
	if d.width > 50 && p.Current > 0 && p.Start > 0 && percent < 50 {
		perByte := d.now().Sub(time.Unix(p.Start, 0)) / time.Duration(p.Current)
		left = " " + (time.Duration(p.Total-p.Current) * perByte).Round(time.Second).String()
	}
	return box + numbers + left
}

// ctxReader stops a read loop when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
