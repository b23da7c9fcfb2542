package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
)

const statsTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

var statsHeader = headerLabels{
	"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

// Timing of stats, as docker's: the screen is redrawn every
// statsRefresh; a container without a sample for statsTimeout shows
// "--".
const (
	statsRefresh = 500 * time.Millisecond
	statsTimeout = 2 * time.Second
)

type statsOptions struct {
	all, noStream, noTrunc bool
	format                 string
}

func (c *cli) statsCommand() *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:         "stats [OPTIONS] [CONTAINER...]",
		Short:       "Display a live stream of container(s) resource usage statistics",
		Annotations: aliases("stats"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.stats(cmd.Context(), args, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVar(&o.noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Do not truncate output")
	f.StringVar(&o.format, "format", "", formatHelp)
	return cmd
}

// statsEntry is what stats shows of a container, computed from its last
// sample as docker's CLI computes it.
type statsEntry struct {
	container, name, id             string
	cpuPerc, mem, memLimit, memPerc float64
	netRx, netTx, blkRead, blkWrite float64
	pids                            uint64
	invalid                         bool
}

// containerStats is one container's statistics as samples come.
type containerStats struct {
	// container is the name or short ID stats asks the engine for.
	container string

	// mu guards e and err.
	mu  sync.Mutex
	e   statsEntry
	err error
}

func (s *containerStats) set(e statsEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.e, s.err = e, nil
}

// fail keeps the last sample but shows it as "--".
func (s *containerStats) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.e.invalid, s.err = true, err
}

// reset forgets the last sample (no sample came in time).
func (s *containerStats) reset(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.e = statsEntry{name: s.e.name, id: s.e.id, invalid: true}
	s.err = err
}

func (s *containerStats) get() (statsEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.e
	e.container = s.container
	return e, s.err
}

// statsBoard is the containers stats shows, in the order they came.
type statsBoard struct {
	// mu guards list.
	mu   sync.Mutex
	list []*containerStats
}

// add adds a container by name or short ID, unless it is there.
func (b *statsBoard) add(name string) (*containerStats, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.list {
		if s.container == name {
			return nil, false
		}
	}
	s := &containerStats{container: name}
	b.list = append(b.list, s)
	return s, true
}

func (b *statsBoard) remove(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, s := range b.list {
		if s.container == name {
			b.list = append(b.list[:i], b.list[i+1:]...)
			return
		}
	}
}

func (b *statsBoard) all() []*containerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*containerStats(nil), b.list...)
}

// stats shows the containers' statistics: those named, or every running
// one (every one with --all) as containers start and stop.
func (c *cli) stats(ctx context.Context, names []string, o statsOptions) error {
	ca, err := c.containerAPI(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	board := &statsBoard{}
	var eventErrs <-chan error
	if len(names) == 0 {
		ea, err := c.engineAPI(ctx)
		if err != nil {
			return err
		}
		if eventErrs, err = c.statsAll(ctx, ca, ea, board, o); err != nil {
			return err
		}
	} else if err := c.statsNamed(ctx, ca, board, names, !o.noStream); err != nil {
		return err
	}
	format := o.format
	if format == "" || format == tableFormat {
		format = statsTable
	}
	if o.noStream {
		var buf bytes.Buffer
		if err := renderStats(&buf, board, format, false, !o.noTrunc); err != nil {
			return err
		}
		_, err := buf.WriteTo(c.out)
		return err
	}
	tick := time.NewTicker(statsRefresh)
	defer tick.Stop()
	return c.showStats(ctx, board, format, !o.noTrunc, eventErrs, tick.C)
}

// statsNamed collects the named containers' statistics and waits for the
// first sample of each; the failures are the error.
func (c *cli) statsNamed(ctx context.Context, ca ContainerAPI, board *statsBoard, names []string, stream bool) error {
	var first sync.WaitGroup
	for _, name := range names {
		if s, ok := board.add(name); ok {
			first.Add(1)
			go collectStats(ctx, ca, s, stream, first.Done)
		}
	}
	first.Wait()
	var errs []error
	for _, s := range board.all() {
		if _, err := s.get(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// statsAll follows the container events, then collects the statistics of
// the containers listed and waits for their first samples. The event
// stream's failure comes on the channel answered.
func (c *cli) statsAll(ctx context.Context, ca ContainerAPI, ea EngineAPI, board *statsBoard, o statsOptions) (<-chan error, error) {
	start := func(id string, first func()) {
		if s, ok := board.add(id); ok {
			go collectStats(ctx, ca, s, !o.noStream, first)
			return
		}
		first()
	}
	msgs, errs := ea.Events(ctx, api.EventsOptions{Filters: api.NewFilters("type", string(events.ContainerEventType))})
	go func() {
		for m := range msgs {
			switch {
			case m.Action == events.ActionStart, m.Action == events.ActionCreate && o.all:
				start(truncateID(m.Actor.ID), func() {})
			case m.Action == events.ActionDie && !o.all:
				board.remove(truncateID(m.Actor.ID))
			}
		}
	}()
	list, err := ca.ContainerList(ctx, api.ContainerListOptions{All: o.all})
	if err != nil {
		return nil, err
	}
	var first sync.WaitGroup
	for _, ctr := range list {
		first.Add(1)
		start(truncateID(ctr.ID), first.Done)
	}
	first.Wait()
	return errs, nil
}

// showStats redraws the table until ctx ends or the event stream fails.
func (c *cli) showStats(ctx context.Context, board *statsBoard, format string, trunc bool, eventErrs <-chan error, tick <-chan time.Time) error {
	for {
		var buf bytes.Buffer
		if err := renderStats(&buf, board, format, true, trunc); err != nil {
			return err
		}
		if _, err := buf.WriteTo(c.out); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case err, ok := <-eventErrs:
			if ok && err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				return err
			}
			eventErrs = nil
		case <-tick:
		}
	}
}

// renderStats writes one screen of stats. Redrawn, it starts at the top
// left and, as docker's does, writes the table a second time with each
// line erased to its end, then erases the rest of the screen.
func renderStats(w *bytes.Buffer, board *statsBoard, format string, redraw, trunc bool) error {
	var rows []any
	for _, s := range board.all() {
		e, _ := s.get()
		rows = append(rows, &statsRow{e: e, trunc: trunc})
	}
	if redraw {
		w.WriteString("\033[H")
	}
	if err := writeRows(w, format, statsHeader, rows); err != nil {
		return err
	}
	if redraw {
		for _, line := range strings.Split(w.String(), "\n") {
			fmt.Fprintln(w, line, "\033[K")
		}
		w.WriteString("\033[J")
	}
	return nil
}

// collectStats reads the container's samples until the stream ends or
// ctx does (after one sample without stream); first is called once, at
// the first sample or failure.
func collectStats(ctx context.Context, ca ContainerAPI, s *containerStats, stream bool, first func()) {
	var once sync.Once
	ready := func() { once.Do(first) }
	defer ready()
	rc, err := ca.ContainerStats(ctx, s.container, stream)
	if err != nil {
		s.fail(err)
		return
	}
	defer rc.Close()
	samples := make(chan error)
	quit := make(chan struct{})
	defer close(quit)
	go decodeStats(rc, s, stream, samples, quit)
	timeout := time.NewTimer(statsTimeout)
	defer timeout.Stop()
	for {
		select {
		case <-timeout.C:
			s.reset(errors.New("timeout waiting for stats"))
			ready()
		case err := <-samples:
			ready()
			if err != nil {
				s.fail(err)
				return
			}
		case <-ctx.Done():
			return
		}
		if !stream {
			return
		}
		timeout.Reset(statsTimeout)
	}
}

// decodeStats decodes samples into s, reporting each (nil) and the end of
// the stream (its error) on samples until quit closes.
func decodeStats(r io.Reader, s *containerStats, stream bool, samples chan<- error, quit <-chan struct{}) {
	dec := json.NewDecoder(r)
	for {
		var v container.StatsResponse
		err := dec.Decode(&v)
		if err == nil {
			s.set(statsOf(&v))
		}
		select {
		case samples <- err:
		case <-quit:
			return
		}
		if err != nil || !stream {
			return
		}
	}
}

// statsOf computes what stats shows from one sample, as docker's CLI does
// for a Linux daemon.
func statsOf(v *container.StatsResponse) statsEntry {
	e := statsEntry{name: v.Name, id: v.ID, pids: v.PidsStats.Current}
	e.cpuPerc = cpuPercent(v)
	e.blkRead, e.blkWrite = blockIO(v.BlkioStats)
	e.mem = memUsage(v.MemoryStats)
	e.memLimit = float64(v.MemoryStats.Limit)
	if e.memLimit != 0 {
		e.memPerc = e.mem / e.memLimit * 100
	}
	for _, n := range v.Networks {
		e.netRx += float64(n.RxBytes)
		e.netTx += float64(n.TxBytes)
	}
	return e
}

// cpuPercent is the container's share of the host's CPU time between the
// two readings of the sample, times the number of CPUs.
func cpuPercent(v *container.StatsResponse) float64 {
	cpuDelta := float64(v.CPUStats.CPUUsage.TotalUsage) - float64(v.PreCPUStats.CPUUsage.TotalUsage)
	systemDelta := float64(v.CPUStats.SystemUsage) - float64(v.PreCPUStats.SystemUsage)
	cpus := float64(v.CPUStats.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(v.CPUStats.CPUUsage.PercpuUsage))
	}
	if systemDelta > 0 && cpuDelta > 0 {
		return cpuDelta / systemDelta * cpus * 100
	}
	return 0
}

func blockIO(b container.BlkioStats) (read, write float64) {
	for _, e := range b.IoServiceBytesRecursive {
		if e.Op == "" {
			continue
		}
		switch e.Op[0] {
		case 'r', 'R':
			read += float64(e.Value)
		case 'w', 'W':
			write += float64(e.Value)
		}
	}
	return read, write
}

// memUsage is the memory used without the inactive page cache: usage
// less total_inactive_file (cgroup v1) or inactive_file (v2).
func memUsage(m container.MemoryStats) float64 {
	if v, ok := m.Stats["total_inactive_file"]; ok && v < m.Usage {
		return float64(m.Usage - v)
	}
	if v := m.Stats["inactive_file"]; v < m.Usage {
		return float64(m.Usage - v)
	}
	return float64(m.Usage)
}

// statsRow is one row of stats; its methods are the template's fields.
type statsRow struct {
	e     statsEntry
	trunc bool
}

const noValue = "--"

func (r *statsRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r *statsRow) Container() string { return r.e.container }

func (r *statsRow) Name() string {
	if len(r.e.name) > 1 {
		return r.e.name[1:]
	}
	return noValue
}

func (r *statsRow) ID() string {
	if r.trunc {
		return truncateID(r.e.id)
	}
	return r.e.id
}

func (r *statsRow) CPUPerc() string {
	if r.e.invalid {
		return noValue
	}
	return percent(r.e.cpuPerc)
}

func (r *statsRow) MemUsage() string {
	if r.e.invalid {
		return "-- / --"
	}
	return units.BytesSize(r.e.mem) + " / " + units.BytesSize(r.e.memLimit)
}

func (r *statsRow) MemPerc() string {
	if r.e.invalid {
		return noValue
	}
	return percent(r.e.memPerc)
}

func (r *statsRow) NetIO() string {
	if r.e.invalid {
		return noValue
	}
	return units.HumanSizeWithPrecision(r.e.netRx, 3) + " / " + units.HumanSizeWithPrecision(r.e.netTx, 3)
}

func (r *statsRow) BlockIO() string {
	if r.e.invalid {
		return noValue
	}
	return units.HumanSizeWithPrecision(r.e.blkRead, 3) + " / " + units.HumanSizeWithPrecision(r.e.blkWrite, 3)
}

func (r *statsRow) PIDs() string {
	if r.e.invalid {
		return noValue
	}
	return strconv.FormatUint(r.e.pids, 10)
}

func percent(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "%" }
