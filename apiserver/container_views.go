package apiserver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

func (s *Server) containerViewRoutes() []route {
	return []route{
		newRoute(http.MethodGet, "/containers/json", s.containerList),
		newRoute(http.MethodGet, "/containers/{name}/json", s.containerInspect),
		newRoute(http.MethodGet, "/containers/{name}/top", s.containerTop),
		newRoute(http.MethodGet, "/containers/{name}/changes", s.containerChanges),
		newRoute(http.MethodGet, "/containers/{name}/stats", s.containerStats),
		newRoute(http.MethodGet, "/containers/{name}/logs", s.containerLogs),
	}
}

func (s *Server) views() (ContainerViews, error) {
	if s.cfg.ContainerViews == nil {
		return nil, unavailable("containers")
	}
	return s.cfg.ContainerViews, nil
}

// containerList is GET /containers/json?all=&limit=&size=&filters=.
func (s *Server) containerList(w http.ResponseWriter, r *http.Request) error {
	b, err := s.views()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := api.ContainerListOptions{All: boolValue(q, "all"), Size: boolValue(q, "size")}
	if opts.Limit, err = intOr(q, "limit", -1); err != nil {
		return err
	}
	if opts.Filters, err = filtersOf(q); err != nil {
		return err
	}
	list, err := b.ContainerList(r.Context(), opts)
	if err != nil {
		return err
	}
	if list == nil {
		list = []container.Summary{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) containerInspect(w http.ResponseWriter, r *http.Request) error {
	b, err := s.views()
	if err != nil {
		return err
	}
	c, err := b.ContainerInspect(r.Context(), r.PathValue("name"), boolValue(r.URL.Query(), "size"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, withLegacyNetwork(c))
	return nil
}

func (s *Server) containerTop(w http.ResponseWriter, r *http.Request) error {
	b, err := s.views()
	if err != nil {
		return err
	}
	top, err := b.ContainerTop(r.Context(), r.PathValue("name"), r.URL.Query().Get("ps_args"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, top)
	return nil
}

func (s *Server) containerChanges(w http.ResponseWriter, r *http.Request) error {
	b, err := s.views()
	if err != nil {
		return err
	}
	changes, err := b.ContainerChanges(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if changes == nil {
		changes = []container.FilesystemChange{}
	}
	writeJSON(w, http.StatusOK, changes)
	return nil
}

// containerStats is GET /containers/{name}/stats?stream=&one-shot=: a JSON
// object per sample, flushed.
func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) error {
	b, err := s.views()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := api.ContainerStatsOptions{Stream: boolOr(q, "stream", true), OneShot: boolValue(q, "one-shot")}
	if opts.Stream && opts.OneShot {
		return errdefs.InvalidArgument(errors.New("cannot have stream=true and one-shot=true"))
	}
	ch, err := b.ContainerStats(r.Context(), r.PathValue("name"), opts)
	if err != nil {
		return err
	}
	js := startJSONStream(w)
	for {
		select {
		case st, ok := <-ch:
			if !ok || js.send(st) != nil || !opts.Stream {
				return nil
			}
		case <-r.Context().Done():
			return nil
		}
	}
}

// logsOptions reads the query of GET /containers/{name}/logs.
func logsOptions(r *http.Request) (api.ContainerLogsOptions, error) {
	q := r.URL.Query()
	opts := api.ContainerLogsOptions{Follow: boolValue(q, "follow"), Stdout: boolValue(q, "stdout"),
		Stderr: boolValue(q, "stderr"), Timestamps: boolValue(q, "timestamps"), Details: boolValue(q, "details"), Tail: -1}
	if !opts.Stdout && !opts.Stderr {
		//lint:ignore ST1005 dockerd's wording.
		return opts, errdefs.InvalidArgument(errors.New("Bad parameters: you must choose at least one stream"))
	}
	var err error
	if opts.Since, err = timeOf(q, "since"); err != nil {
		return opts, err
	}
	if opts.Until, err = timeOf(q, "until"); err != nil {
		return opts, err
	}
	if tail := q.Get("tail"); tail != "" && tail != "all" {
		if opts.Tail, err = intOr(q, "tail", -1); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// containerLogs is GET /containers/{name}/logs: a streaming body, framed
// without a TTY, each line flushed.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) error {
	b, err := s.views()
	if err != nil {
		return err
	}
	opts, err := logsOptions(r)
	if err != nil {
		return err
	}
	msgs, tty, err := b.ContainerLogs(r.Context(), r.PathValue("name"), opts)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", streamType(r, tty))
	w.WriteHeader(http.StatusOK)
	fw := newFlushWriter(w)
	_ = fw.flush()
	writeLogs(r, w, fw.flush, msgs, opts, tty)
	return nil
}

// timestampFormat is dockerd's: RFC 3339 with nanoseconds always nine
// digits.
const timestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// writeLogs writes the log lines until the channel closes, the client
// leaves or a write fails. It flushes whenever no line waits: lines that
// come faster than the client takes them go out in batches, not one
// write (and one chunk) each.
func writeLogs(r *http.Request, w io.Writer, flush func() error, msgs <-chan api.LogMessage, opts api.ContainerLogsOptions, tty bool) {
	stdout, stderr := outputs(w, tty)
	syserr := stderr
	if !tty {
		syserr = &muxWriter{mu: stdout.(*muxWriter).mu, w: w, stream: streamSystemErr}
	}
	for {
		var m api.LogMessage
		var ok bool
		select {
		case m, ok = <-msgs:
		case <-r.Context().Done():
		}
		if !ok {
			_ = flush()
			return
		}
		var err error
		switch {
		case m.Err != nil:
			_, err = fmt.Fprintf(syserr, "Error grabbing logs: %v\n", m.Err)
		case m.Stream == "stderr" && opts.Stderr:
			_, err = stderr.Write(logLine(m, opts))
		case m.Stream != "stderr" && opts.Stdout:
			_, err = stdout.Write(logLine(m, opts))
		}
		if err == nil && len(msgs) == 0 {
			err = flush()
		}
		if err != nil {
			return
		}
	}
}

// logLine is a log line with its timestamp and attributes as asked.
func logLine(m api.LogMessage, opts api.ContainerLogsOptions) []byte {
	var prefix []byte
	if opts.Timestamps {
		prefix = append(prefix, m.Timestamp.Format(timestampFormat)+" "...)
	}
	if opts.Details {
		keys := make([]string, 0, len(m.Attrs))
		for k := range m.Attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		kv := make([]string, len(keys))
		for i, k := range keys {
			kv[i] = url.QueryEscape(k) + "=" + url.QueryEscape(m.Attrs[k])
		}
		prefix = append(prefix, strings.Join(kv, ",")+" "...)
	}
	return append(prefix, m.Line...)
}
