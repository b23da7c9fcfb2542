package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/template"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	"github.com/spf13/cobra"
)

func (c *cli) inspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspect(cmd.Context(), args, format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return cmd
}

// inspect prints the images as a JSON array (indented by 4 spaces), in
// compact JSON (-f json) or through a template, one line per image; images
// that fail are reported after the others, exit code 1. A template that
// does not parse is exit code 64, as docker's.
func (c *cli) inspect(ctx context.Context, refs []string, format string) error {
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	return c.inspectObjects(ctx, refs, format, func(ctx context.Context, ref string) (any, []byte, error) {
		resp, err := client.ImageInspect(ctx, ref)
		if err != nil {
			return nil, nil, err
		}
		raw, err := marshalRaw(resp)
		return resp, raw, err
	})
}

// marshalRaw encodes v as dockerd writes its answers: no HTML escaping.
func marshalRaw(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// execInspect runs the template on the typed value, and on the raw JSON
// when a field is not in the type (docker's fallback).
func execInspect(w *bytes.Buffer, tmpl *template.Template, v any, raw []byte) error {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		var generic any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&generic); err != nil {
			return fmt.Errorf("unable to read inspect data: %w", err)
		}
		buf.Reset()
		if err := tmpl.Option("missingkey=error").Execute(&buf, generic); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
	}
	w.Write(buf.Bytes())
	w.WriteByte('\n')
	return nil
}

func (c *cli) flushInspect(format string, tmpl *template.Template, raws [][]byte, text *bytes.Buffer) error {
	if tmpl != nil {
		if text.Len() == 0 {
			text.WriteString("\n")
		}
		_, err := text.WriteTo(c.out)
		return err
	}
	if len(raws) == 0 {
		_, err := io.WriteString(c.out, "[]\n")
		return err
	}
	joined := append([]byte("["), bytes.Join(raws, []byte(","))...)
	joined = append(joined, ']')
	var out bytes.Buffer
	var err error
	if format == jsonFormat {
		err = json.Compact(&out, joined)
	} else {
		err = json.Indent(&out, joined, "", "    ")
	}
	if err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(c.out)
	return err
}

const (
	historyTable         = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	historyTableNonHuman = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
)

var historyHeader = map[string]string{
	"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
	"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
}

type historyOptions struct {
	human, quiet, noTrunc bool
	format                string
}

func (c *cli) historyCommand() *cobra.Command {
	var o historyOptions
	cmd := &cobra.Command{
		Use:         "history [OPTIONS] IMAGE",
		Short:       "Show the history of an image",
		Args:        exactArgs(1),
		Annotations: map[string]string{"aliases": "corral image history, corral history"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.history(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "", formatHelp)
	f.BoolVarP(&o.human, "human", "H", true, "Print sizes and dates in human readable format")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	return cmd
}

func (c *cli) history(ctx context.Context, ref string, o historyOptions) error {
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	items, err := client.ImageHistory(ctx, ref)
	if err != nil {
		return err
	}
	format := o.format
	if format == "" || format == tableFormat {
		switch {
		case o.quiet:
			format = quietFormat
		case !o.human:
			format = historyTableNonHuman
		default:
			format = historyTable
		}
	}
	rows := make([]any, len(items))
	for i, h := range items {
		rows[i] = &historyRow{h: h, trunc: !o.noTrunc, human: o.human}
	}
	return listFormat{format: format, header: historyHeader}.write(c.out, rows)
}

// historyRow is one row of `history`.
type historyRow struct {
	trunc, human bool
	h            image.HistoryResponseItem
}

func (r *historyRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r *historyRow) ID() string {
	if r.trunc {
		return truncateID(r.h.ID)
	}
	return r.h.ID
}

func (r *historyRow) CreatedAt() string { return time.Unix(r.h.Created, 0).Format(time.RFC3339) }

// historyEpoch: dates before 2000 are shown as N/A.
var historyEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

func (r *historyRow) CreatedSince() string {
	if !r.human {
		return r.CreatedAt()
	}
	if r.h.Created <= historyEpoch {
		return "N/A"
	}
	return humanSince(r.h.Created)
}

func (r *historyRow) CreatedBy() string {
	s := strings.ReplaceAll(r.h.CreatedBy, "\t", " ")
	if r.trunc {
		return ellipsis(s, 45)
	}
	return s
}

func (r *historyRow) Size() string {
	if r.human {
		return units.HumanSizeWithPrecision(float64(r.h.Size), 3)
	}
	return strconv.FormatInt(r.h.Size, 10)
}

func (r *historyRow) Comment() string { return r.h.Comment }
