package build

import (
	"context"
	"runtime"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// runStages builds the stages of plan (a topological order), each as soon
// as the stages it uses are built, at most maxParallel() at once. Each
// stage's output goes to its own lane, streamed live while it is the
// first unfinished stage of the plan and held until then, so the stream
// reads as the sequential build's, steps numbered in plan order. The
// first failure cancels the other stages; its own output is flushed.
func (j *job) runStages(ctx context.Context, plan []int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lanes := make([]*lane, len(plan))
	done := map[int]chan struct{}{}
	for n, i := range plan {
		lanes[n] = &lane{up: j.p}
		done[i] = make(chan struct{})
	}
	lanes[0].open()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards first, next
		first error
		next  int // the lane streaming live
	)
	sem := make(chan struct{}, maxParallel())
	step := 0
	for n, i := range plan {
		sj := *j // its own lexer (not safe for concurrent use), progress, step count
		sj.lex, sj.step, sj.p = shell.NewLex(j.df.Escape), step, &progress{quiet: j.p.quiet, to: lanes[n].send}
		deps := j.df.deps(i, j.baseName)
		step += 1 + len(j.df.Stages[i].Commands)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := sj.awaitAndRun(ctx, i, deps, done, sem)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
					cancel(err)
					lanes[n].open()
				}
				return
			}
			lanes[n].finished = true
			for next < len(lanes) && lanes[next].finished {
				if next++; next < len(lanes) {
					lanes[next].open()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// awaitAndRun builds stage i once the stages it uses are done and a slot
// of sem is free (deps: the stages it uses), and records its result.
func (j *job) awaitAndRun(ctx context.Context, i int, deps []int, done map[int]chan struct{}, sem chan struct{}) error {
	for _, d := range deps {
		select {
		case <-done[d]:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-sem }()
	s, err := j.runStage(ctx, i)
	if err != nil {
		return err
	}
	j.sh.mu.Lock()
	j.sh.results[i] = s
	j.sh.mu.Unlock()
	close(done[i])
	return nil
}

// maxParallel is how many stages build at once: one per CPU the Go
// runtime uses, and at least two.
func maxParallel() int { return max(2, runtime.GOMAXPROCS(0)) }

// lane is one stage's share of the progress stream: messages are held
// until it is opened, then passed on as they come.
type lane struct {
	up       *progress
	mu       sync.Mutex // guards held, live
	held     []message
	live     bool
	finished bool // guarded by runStages' mu
}

func (l *lane) send(m message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.live {
		l.up.send(m)
		return
	}
	l.held = append(l.held, m)
}

// open passes on what the lane held and what comes after.
func (l *lane) open() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.live {
		return
	}
	for _, m := range l.held {
		l.up.send(m)
	}
	l.held, l.live = nil, true
}
