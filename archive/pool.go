package archive

import (
	"sync"
)

// Geometry of the pool of workers that create files while Apply reads on:
// creating a file costs far more than reading its data from the tar on
// most filesystems, and several creations at once overlap their waits.
const (
	// defaultWorkers is the workers of an Apply whose Workers option is 0.
	defaultWorkers = 8
	// maxPooledFile is the largest regular file handed to a worker; larger
	// ones are written by Apply itself, streaming from the tar.
	maxPooledFile = 1 << 20
	// maxPooledBytes bounds the file data held for workers.
	maxPooledBytes = 16 << 20
	// maxPooledJobs bounds the entries waiting for a worker.
	maxPooledJobs = 256
)

// entryKey names one directory entry whatever path led to it: its parent
// directory (device and inode) and its name. Two tar names that resolve to
// the same entry (through a symlink, say) have the same key.
type entryKey struct {
	dev, ino uint64
	name     string
}

// job is one entry for a worker: run creates it; size is the bytes of
// file data it holds until it is done.
type job struct {
	key  entryKey
	size int
	run  func() error
}

// pool runs jobs on a few workers. Only Apply's goroutine submits, and it
// keeps the order of the tar where it matters: before it touches an entry
// a job is creating (busy), removes anything, resolves a path through
// what a job may be creating, or sets directory times, it waits for the
// jobs in flight (drain). The first error of a job stops the others and is
// Apply's error.
type pool struct {
	jobs chan job
	wg   sync.WaitGroup

	mu sync.Mutex
	// changed is signalled whenever a job completes.
	changed  *sync.Cond
	pending  map[entryKey]int // keys of the jobs in flight
	inflight int
	bytes    int // file data held by the jobs in flight
	err      error
}

func newPool(workers int) *pool {
	p := &pool{jobs: make(chan job, maxPooledJobs), pending: make(map[entryKey]int)}
	p.changed = sync.NewCond(&p.mu)
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

func (p *pool) work() {
	defer p.wg.Done()
	for j := range p.jobs {
		p.mu.Lock()
		failed := p.err != nil
		p.mu.Unlock()
		var err error
		if !failed {
			err = j.run()
		}
		p.mu.Lock()
		if err != nil && p.err == nil {
			p.err = err
		}
		if p.pending[j.key]--; p.pending[j.key] == 0 {
			delete(p.pending, j.key)
		}
		p.inflight--
		p.bytes -= j.size
		p.changed.Broadcast()
		p.mu.Unlock()
	}
}

// submit queues j, first waiting while the jobs in flight hold too much
// data. It returns the error of a job that failed, if any, instead.
func (p *pool) submit(j job) error {
	p.mu.Lock()
	for p.err == nil && p.inflight > 0 &&
		(p.bytes+j.size > maxPooledBytes || p.inflight >= maxPooledJobs) {
		p.changed.Wait()
	}
	if err := p.err; err != nil {
		p.mu.Unlock()
		return err
	}
	p.pending[j.key]++
	p.inflight++
	p.bytes += j.size
	p.mu.Unlock()
	p.jobs <- j // never blocks: at most maxPooledJobs are in flight
	return nil
}

// busy reports whether a job in flight creates the entry k.
func (p *pool) busy(k entryKey) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending[k] > 0
}

// drain waits until no job is in flight and returns the first error of a
// job, if any.
func (p *pool) drain() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.inflight > 0 {
		p.changed.Wait()
	}
	return p.err
}

// failed returns the first error of a job, if any.
func (p *pool) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// close waits for the jobs in flight and stops the workers.
func (p *pool) close() {
	close(p.jobs)
	p.wg.Wait()
}
