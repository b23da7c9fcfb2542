package cli

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/client"
)

func TestStatsOf(t *testing.T) {
	c := container.Summary{ID: webID, Names: []string{"/web"}}
	e := statsOf(ptr(statsSample(c, 1)))
	r := &statsRow{e: e, trunc: true}
	got := strings.Join([]string{r.ID(), r.Name(), r.CPUPerc(), r.MemUsage(), r.MemPerc(), r.NetIO(), r.BlockIO(), r.PIDs()}, " | ")
	// CPU: 25ms of 2s of host time on 2 CPUs; memory without the 1MiB of
	// inactive cache; every interface; reads include "read", not "Total".
	want := "3f4c5e6a7b8c | web | 2.50% | 9.001MiB / 2GiB | 0.44% | 1MB / 5.68kB | 4.1kB / 8.19kB | 4"
	if got != want {
		t.Errorf("stats row:\n got %s\nwant %s", got, want)
	}
	r = &statsRow{e: statsEntry{container: "x", invalid: true}}
	got = strings.Join([]string{r.Container(), r.ID(), r.Name(), r.CPUPerc(), r.MemUsage(), r.MemPerc(), r.NetIO(), r.BlockIO(), r.PIDs()}, " | ")
	if want := "x |  | -- | -- | -- / -- | -- | -- | -- | --"; got != want {
		t.Errorf("invalid stats row:\n got %s\nwant %s", got, want)
	}
	// cgroup v2: inactive_file; no online_cpus: the per-CPU counters.
	v := &container.StatsResponse{
		CPUStats: container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 300, PercpuUsage: []uint64{100, 100, 100, 0}},
			SystemUsage: 2000},
		PreCPUStats: container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 100}, SystemUsage: 1000},
		MemoryStats: container.MemoryStats{Usage: 1000, Limit: 4000, Stats: map[string]uint64{"inactive_file": 200}},
	}
	if e := statsOf(v); e.cpuPerc != 80 || e.mem != 800 || e.memPerc != 20 {
		t.Errorf("v2 sample: cpu %v mem %v (%v%%)", e.cpuPerc, e.mem, e.memPerc)
	}
}

func ptr[T any](v T) *T { return &v }

func TestStatsNoStream(t *testing.T) {
	f := newEngineFake()
	sock := serveEngine(t, f)
	row := "   2.50%     9.001MiB / 2GiB     0.44%     1MB / 5.68kB   4.1kB / 8.19kB   4\n"
	header := "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O        BLOCK I/O        PIDS\n"
	tests := []manageCase{
		{args: []string{"stats", "--no-stream"}, out: header + "3f4c5e6a7b8c   web    " + row,
			calls: []string{"list all=false limit=-1 size=false filters=[]", "stats 3f4c5e6a7b8c stream=false"}, sortCalls: true},
		{args: []string{"stats", "--no-stream", "db", "web"}, sortCalls: true,
			out:   header + "9a8b7c6d5e4f   db     " + row + "3f4c5e6a7b8c   web    " + row,
			calls: []string{"stats db stream=false", "stats web stream=false"}},
		{args: []string{"container", "stats", "--no-stream", "--no-trunc", "--format", "{{.ID}} {{.Container}}", "web"},
			out: webID + " web\n", calls: []string{"stats web stream=false"}},
		{args: []string{"stats", "--no-stream", "--format", "json", "web"}, calls: []string{"stats web stream=false"},
			out: `{"BlockIO":"4.1kB / 8.19kB","CPUPerc":"2.50%","Container":"web","ID":"3f4c5e6a7b8c","MemPerc":"0.44%",` +
				`"MemUsage":"9.001MiB / 2GiB","Name":"web","NetIO":"1MB / 5.68kB","PIDs":"4"}` + "\n"},
		{args: []string{"stats", "--no-stream", "web", "nope"}, code: 1, err: "Error response from daemon: No such container: nope\n",
			calls: []string{"stats web stream=false", "stats nope stream=false"}, sortCalls: true},
	}
	for _, tc := range tests {
		// The event stream that stats without names follows
		// (TestStatsFollowsEvents) is asked for in the background: with
		// --no-stream the command may end before that request arrives,
		// and it may arrive during the next case.
		tc.racing = "events "
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) { checkManage(t, f, sock, tc) })
	}
}

// TestStatsRedraw checks docker's redraw: home, the table, the table again
// with each line erased to its end, the rest of the screen erased.
func TestStatsRedraw(t *testing.T) {
	board := &statsBoard{}
	s, _ := board.add("web")
	s.set(statsOf(ptr(statsSample(container.Summary{ID: webID, Names: []string{"/web"}}, 1))))
	out := &lockedBuffer{writes: make(chan string)}
	c := newCLI(Options{Out: out})
	ctx, cancel := context.WithCancel(context.Background())
	tick := make(chan time.Time)
	done := make(chan error)
	go func() { done <- c.showStats(ctx, board, "table {{.Name}}\t{{.PIDs}}", true, nil, tick) }()
	<-out.writes // the first screen comes at once
	tick <- time.Time{}
	<-out.writes
	s2, _ := board.add("db") // while showStats waits for the next tick
	s2.fail(context.DeadlineExceeded)
	tick <- time.Time{}
	<-out.writes
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("showStats ended with %v", err)
	}
	screen := func(table string) string {
		var b strings.Builder
		b.WriteString("\033[H" + table)
		for _, line := range strings.Split("\033[H"+table, "\n") {
			b.WriteString(line + " \033[K\n")
		}
		return b.String() + "\033[J"
	}
	one := "NAME      PIDS\nweb       4\n"
	two := one + "--        --\n"
	if want := screen(one) + screen(one) + screen(two); out.String() != want {
		t.Errorf("screens:\n got %q\nwant %q", out.String(), want)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader; each
// write is sent on writes, if set.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes chan string
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.buf.Write(p)
	b.mu.Unlock()
	if b.writes != nil {
		b.writes <- string(p)
	}
	return n, err
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// statsInterrupt is an interrupt as Options.Context's cause: exit 130.
type statsInterrupt struct{}

func (statsInterrupt) Error() string { return "interrupt" }
func (statsInterrupt) ExitCode() int { return 130 }

// TestStatsStream runs the streaming stats until an interrupt.
func TestStatsStream(t *testing.T) {
	f := newEngineFake()
	sock := serveEngine(t, f)
	out := &lockedBuffer{writes: make(chan string)}
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan int)
	go func() {
		done <- Main([]string{"stats", "--format", "{{.Name}} {{.PIDs}}", "web"}, Options{Connect: connectTo(sock), Out: out, Context: ctx})
	}()
	first := <-out.writes
	cancel(statsInterrupt{})
	go func() {
		for range out.writes { // later screens
		}
	}()
	if code := <-done; code != 130 {
		t.Errorf("interrupted stats: exit %d", code)
	}
	close(out.writes)
	// The stream may have brought a later sample (more PIDs) already.
	if want := regexp.MustCompile("^\033\\[Hweb ([456])\n\033\\[Hweb ([456]) \033\\[K\n \033\\[K\n\033\\[J$"); !want.MatchString(first) {
		t.Errorf("first screen %q, want %q", first, want)
	}
}

// eventsClient is the real client with the events a test sends.
type eventsClient struct {
	*client.Client
	msgs chan events.Message
}

func (e eventsClient) Events(context.Context, api.EventsOptions) (<-chan events.Message, <-chan error) {
	return e.msgs, make(chan error)
}

// TestStatsFollowsEvents checks that stats without names adds the
// containers that start and drops those that die.
func TestStatsFollowsEvents(t *testing.T) {
	f := newEngineFake()
	sock := serveEngine(t, f)
	cl, err := client.New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ec := eventsClient{Client: cl, msgs: make(chan events.Message)}
	c := newCLI(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	board := &statsBoard{}
	if _, err := c.statsAll(ctx, ec, ec, board, statsOptions{noStream: true}); err != nil {
		t.Fatal(err)
	}
	names := func() string {
		var n []string
		for _, s := range board.all() {
			n = append(n, s.container)
		}
		return strings.Join(n, ",")
	}
	if got := names(); got != "3f4c5e6a7b8c" {
		t.Fatalf("containers listed: %s", got)
	}
	send := func(action events.Action, id string) {
		ec.msgs <- events.Message{Type: events.ContainerEventType, Action: action, Actor: events.Actor{ID: id}}
	}
	send(events.ActionStart, newID)
	send(events.ActionCreate, longID) // ignored without --all
	send(events.ActionDie, webID)
	send(events.ActionExecDie, webID) // handled once the die is
	if got := names(); got != "5555aaaa5555" {
		t.Errorf("after start and die: %s", got)
	}
}
