package monitor

import (
	"os"
	"sync"
)

// Spares keeps one monitor process spawned ahead of the next start, so
// that the start does not pay for the fork, the exec and libc's start-up
// (about 1.3 ms of CPU, on the start's path even when Spawn overlaps it
// with the caller's work). The spare is `corral-monitor monitor -`: it
// holds nothing of any container; Create sends it its directory, where it
// reads its Config, so everything per container still comes at Create.
// It costs one idle process (about 0.1 MiB PSS) waiting on its go pipe,
// which closes when the owner closes Spares or dies: the spare then exits,
// having made nothing (no directory, no container, no cgroup).
//
// A spare is the owner's child, spawned as Spawn spawns, so it starts in
// the same session settings, cgroup, OOM score and environment as one
// spawned at the start.
type Spares struct {
	binary string // the corral binary the monitors are found beside

	mu     sync.Mutex
	next   *Spawned // the spare, or nil
	closed bool
}

// NewSpares keeps spares of the monitor found beside binary ("" for this
// process's executable); there is none until Refill.
func NewSpares(binary string) *Spares {
	return &Spares{binary: binary}
}

// Spawn is Spawn(cfg), taking the spare when it fits: it is alive and it
// runs the program cfg would. A spare is taken by one caller only.
func (s *Spares) Spawn(cfg Config) *Spawned {
	s.mu.Lock()
	p := s.next
	s.next = nil
	s.mu.Unlock()
	if p == nil {
		return Spawn(cfg)
	}
	full, err := cfg.withDefaults()
	if err != nil || len(full.Dir()) >= maxSpareDir || !p.fits(full.Binary) {
		go p.Abort() // it may still be starting: no need to wait for it
		return Spawn(cfg)
	}
	p.cfg = full
	return p
}

// maxSpareDir bounds the directory a spare reads from its go pipe (the
// monitor's buffer, one atomic pipe write).
const maxSpareDir = 4095

// Refill spawns a spare in the background unless there is one; the
// caller calls it once a start no longer needs the CPU.
func (s *Spares) Refill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.next != nil {
		return
	}
	binary := s.binary
	if binary == "" {
		var err error
		if binary, err = os.Executable(); err != nil {
			return
		}
	}
	program, err := monitorProgramOf(binary)
	if err != nil {
		return // a start says why, spawning its own
	}
	p := newSpawned(Config{})
	p.spare, p.program = true, program
	go func() {
		defer close(p.done)
		if p.file, p.err = os.Stat(program); p.err == nil {
			p.err = p.start("-")
		}
	}()
	s.next = p
}

// Close lets the spare go (it exits) and spawns no more.
func (s *Spares) Close() {
	s.mu.Lock()
	p := s.next
	s.next, s.closed = nil, true
	s.mu.Unlock()
	if p != nil {
		p.Abort()
	}
}

// fits reports whether spare p can serve a monitor of the corral binary:
// it runs the program that binary's would, and has not exited. One still
// being spawned fits; if that fails, Create says so.
func (p *Spawned) fits(binary string) bool {
	program, err := monitorProgramOf(binary)
	if err != nil || program != p.program {
		return false
	}
	select {
	case <-p.done:
		if p.err != nil {
			return false
		}
	default:
		return true
	}
	if fi, err := os.Stat(program); err != nil || !os.SameFile(fi, p.file) || !fi.ModTime().Equal(p.file.ModTime()) {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}
