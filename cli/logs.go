package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/client"
)

type logsOptions struct {
	follow     bool
	since      string
	until      string
	timestamps bool
	details    bool
	tail       string
}

func (c *cli) logsCommand() *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:         "logs [OPTIONS] CONTAINER",
		Short:       "Fetch the logs of a container",
		Args:        exactArgs(1),
		Annotations: map[string]string{"aliases": "corral container logs, corral logs"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.logs(cmd.Context(), args[0], o)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&o.follow, "follow", "f", false, "Follow log output")
	fs.StringVar(&o.since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	fs.StringVar(&o.until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	fs.BoolVarP(&o.timestamps, "timestamps", "t", false, "Show timestamps")
	fs.BoolVar(&o.details, "details", false, "Show extra details provided to logs")
	fs.StringVarP(&o.tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	return cmd
}

// logs is `corral logs`: the container is inspected first (its TTY says
// whether the log is multiplexed), then its log copied to stdout and
// stderr.
func (c *cli) logs(ctx context.Context, name string, o logsOptions) error {
	ra, err := c.runAPI(ctx)
	if err != nil {
		return err
	}
	info, err := ra.ContainerInspect(ctx, name)
	if err != nil {
		return err
	}
	opts, err := o.options(time.Now())
	if err != nil {
		return err
	}
	body, err := ra.ContainerLogs(ctx, info.ID, opts)
	if err != nil {
		return err
	}
	defer body.Close()
	if info.Config != nil && info.Config.Tty {
		_, err = io.Copy(c.out, body)
	} else {
		_, err = client.StdCopy(c.out, c.err, body)
	}
	if err != nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// options are the logs call's options; since and until are read as the
// docker client reads them, relative to now.
func (o logsOptions) options(now time.Time) (api.ContainerLogsOptions, error) {
	opts := api.ContainerLogsOptions{Stdout: true, Stderr: true, Follow: o.follow, Timestamps: o.timestamps,
		Details: o.details, Tail: -1}
	var err error
	if o.since != "" {
		if opts.Since, err = parseTimestamp(o.since, now); err != nil {
			return opts, fmt.Errorf(`invalid value for "since": %w`, err)
		}
	}
	if o.until != "" {
		if opts.Until, err = parseTimestamp(o.until, now); err != nil {
			return opts, fmt.Errorf(`invalid value for "until": %w`, err)
		}
	}
	// The daemon reads a tail that is not a number as all of it.
	if n, err := strconv.Atoi(o.tail); err == nil && n >= 0 {
		opts.Tail = n
	}
	return opts, nil
}

// parseTimestamp reads a --since or --until as the docker client does: a
// Go duration before ref (to the second), an RFC 3339 time or date (in
// ref's zone when it has none), or Unix seconds[.fraction].
func parseTimestamp(value string, ref time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(value); value != "0" && err == nil {
		return time.Unix(ref.Add(-d).Unix(), 0), nil
	}
	inLocation := !(strings.ContainsAny(value, "zZ+") || strings.Count(value, "-") == 3)
	var t time.Time
	var err error
	if layout := timestampLayout(value, inLocation); inLocation {
		t, err = time.ParseInLocation(layout, value, time.FixedZone(ref.Zone()))
	} else {
		t, err = time.Parse(layout, value)
	}
	if err == nil {
		return t, nil
	}
	if strings.Contains(value, "-") {
		return time.Time{}, err
	}
	sec, frac, hasFrac := strings.Cut(value, ".")
	s, serr := strconv.ParseInt(sec, 10, 64)
	n, nerr := int64(0), error(nil)
	if hasFrac {
		n, nerr = strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		if _, ferr := strconv.ParseInt(frac, 10, 64); ferr != nil {
			nerr = ferr
		}
	}
	if serr != nil || nerr != nil {
		return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q", value)
	}
	return time.Unix(s, n), nil
}

// timestampLayout is the layout docker tries for value.
func timestampLayout(value string, inLocation bool) string {
	switch {
	case strings.Contains(value, "."):
		if inLocation {
			return "2006-01-02T15:04:05.999999999"
		}
		return time.RFC3339Nano
	case strings.Contains(value, "T"):
		colons := strings.Count(value, ":")
		if !inLocation && !strings.ContainsAny(value, "zZ") && colons > 0 {
			colons-- // the zone's
		}
		layouts := [][]string{{"2006-01-02T15Z07:00", "2006-01-02T15"}, {"2006-01-02T15:04Z07:00", "2006-01-02T15:04"},
			{time.RFC3339, "2006-01-02T15:04:05"}}
		i := 0
		if inLocation {
			i = 1
		}
		return layouts[min(colons, 2)][i]
	case inLocation:
		return "2006-01-02"
	}
	return "2006-01-02Z07:00"
}

func (c *cli) waitCommand() *cobra.Command {
	return &cobra.Command{
		Use:         "wait CONTAINER [CONTAINER...]",
		Short:       "Block until one or more containers stop, then print their exit codes",
		Args:        minArgs(1),
		Annotations: map[string]string{"aliases": "corral container wait, corral wait"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.wait(cmd.Context(), args)
		},
	}
}

// wait is `corral wait`: each container's exit code when it stops, in
// order; the failures are the error, after all.
func (c *cli) wait(ctx context.Context, names []string) error {
	ra, err := c.runAPI(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		results, errc := ra.ContainerWait(ctx, name, "")
		select {
		case r := <-results:
			fmt.Fprintf(c.out, "%d\n", r.StatusCode)
		case err := <-errc:
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
