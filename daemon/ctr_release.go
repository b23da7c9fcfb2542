package daemon

import (
	"sync"

	ccontainer "github.com/corral-dev/corral/container"
	cnetwork "github.com/corral-dev/corral/network"
)

// Deleting a veth pair takes the kernel 15-20 ms (unregistering a netdev
// waits for RCU grace periods), which an exit would otherwise add to every
// `run --rm` on a bridge. So an exit releases its endpoints in the
// background: first the veth pairs go, then, under netMu, the endpoints
// and their addresses. An address is never handed out again while the old
// pair, whose MAC the bridge may still have learned on the old port, is on
// the bridge. A start of the same container, and a network's removal, wait
// for the releases under way (they would find the endpoint still there).

// releases tracks the background releases under way, by container.
type releases struct {
	mu sync.Mutex
	// pending holds a channel per container, closed when its release is
	// done.
	pending map[string]chan struct{}
}

// begin records a release of container id; the caller calls the returned
// function when it is done.
func (r *releases) begin(id string) (done func()) {
	ch := make(chan struct{})
	r.mu.Lock()
	if r.pending == nil {
		r.pending = map[string]chan struct{}{}
	}
	r.pending[id] = ch
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		if r.pending[id] == ch {
			delete(r.pending, id)
		}
		r.mu.Unlock()
		close(ch)
	}
}

// wait returns once no release of container id is under way.
func (r *releases) wait(id string) {
	r.mu.Lock()
	ch := r.pending[id]
	r.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// waitAll returns once the releases under way when it was called are
// done, and whether there were any.
func (r *releases) waitAll() bool {
	r.mu.Lock()
	chs := make([]chan struct{}, 0, len(r.pending))
	for _, ch := range r.pending {
		chs = append(chs, ch)
	}
	r.mu.Unlock()
	for _, ch := range chs {
		<-ch
	}
	return len(chs) > 0
}

// allocateEndpoints gives c its endpoints (allocateEndpointsNow) once its
// own release is done. An allocation that fails while other releases are
// under way (an address asked for with --ip, a full subnet) is tried
// again once they are done: `run --rm` returned, its address is free.
func (s *Containers) allocateEndpoints(c *ccontainer.Container) (*ccontainer.Container, error) {
	s.releasing.wait(c.ID)
	out, err := s.allocateEndpointsNow(c)
	if err != nil && s.releasing.waitAll() {
		return s.allocateEndpointsNow(c)
	}
	return out, err
}

// heldEndpoint is one endpoint of a container: its network and the
// endpoint's ID and veth.
type heldEndpoint struct {
	network, name, id, hostLink string
}

// heldEndpoints lists the endpoints container id holds in the store.
func (s *Containers) heldEndpoints(id string) []heldEndpoint {
	var out []heldEndpoint
	for _, n := range s.nets.store.List() {
		if ep, ok := n.Endpoints[id]; ok {
			out = append(out, heldEndpoint{network: n.ID, name: n.Name, id: ep.ID, hostLink: ep.HostLink})
		}
	}
	return out
}

// releaseEndpointsLater releases container id's endpoints in the
// background, as releaseEndpoints does, without holding up its exit.
func (s *Containers) releaseEndpointsLater(id string) {
	eps := s.heldEndpoints(id)
	if len(eps) == 0 {
		return
	}
	done := s.releasing.begin(id)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer done()
		s.detachHeld(id, eps)
		s.netMu.Lock()
		defer s.netMu.Unlock()
		for _, ep := range eps {
			s.releaseHeld(id, ep)
		}
	}()
}

// detachHeld deletes the host links (veths) of container id's endpoints
// eps; their links in the container go with them.
func (s *Containers) detachHeld(id string, eps []heldEndpoint) {
	for _, ep := range eps {
		if ep.hostLink == "" {
			continue
		}
		if err := cnetwork.Detach(ep.hostLink); err != nil {
			s.log.Warn("remove endpoint's veth", "container", id, "network", ep.name, "err", err)
		}
	}
}

// releaseHeld releases endpoint ep of container id unless the container
// holds another endpoint there by now; the caller holds netMu.
func (s *Containers) releaseHeld(id string, ep heldEndpoint) {
	n, err := s.nets.store.Get(ep.network)
	if err != nil {
		return // the network is gone, and its endpoints with it
	}
	if cur, ok := n.Endpoints[id]; !ok || cur.ID != ep.id {
		return
	}
	if _, _, err := s.nets.store.Release(ep.network, id); err != nil {
		s.log.Warn("release endpoint", "container", id, "network", ep.name, "err", err)
	}
}

// waitReleases waits for the endpoint releases of exited containers still
// under way, so that a network is not "in use" by a container already gone.
func (s *Networks) waitReleases() {
	if s.ctrs != nil {
		s.ctrs.releasing.waitAll()
	}
}
