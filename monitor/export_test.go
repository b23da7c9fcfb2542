package monitor

// SparePid is the pid of s's spare once it is started, 0 without one.
func SparePid(s *Spares) int {
	s.mu.Lock()
	p := s.next
	s.mu.Unlock()
	if p == nil {
		return 0
	}
	<-p.done
	return p.pid
}
