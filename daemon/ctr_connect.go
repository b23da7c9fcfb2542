package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	cnetwork "github.com/corral-dev/corral/network"
)

// connect is POST /networks/{name}/connect: it records the network in the
// container's settings and, when the container runs, allocates its
// endpoint and adds the interface (eth1, ...) to its namespace at once.
func (s *Containers) connect(_ context.Context, ref string, req network.ConnectRequest) error {
	c, unlock, err := s.lock(req.Container)
	if err != nil {
		return err
	}
	defer unlock()
	n, err := s.nets.store.Get(ref)
	if err != nil {
		return err
	}
	if err := s.checkConnect(c, n); err != nil {
		return err
	}
	next := *c
	next.NetworkSettings = cloneSettings(c.NetworkSettings)
	if err := s.addNetwork(&next, n.ID, req.EndpointConfig); err != nil {
		return err
	}
	if err := s.connectRecord(&next, n); err != nil {
		return err
	}
	if err := s.nets.applyFirewall(); err != nil {
		s.log.Warn("firewall rules after connect", "container", c.ID, "network", n.Name, "err", err)
	}
	if err := s.rewriteHosts(c.ID); err != nil {
		s.log.Warn("hosts file after connect", "container", c.ID, "network", n.Name, "err", err)
	}
	s.nets.publish(n, events.ActionConnect, "container", c.ID)
	return nil
}

// connectRecord plugs c into n if it runs (as its record says under
// netMu, which its exit takes too) and writes its settings.
func (s *Containers) connectRecord(c *ccontainer.Container, n cnetwork.Network) error {
	s.netMu.Lock()
	defer s.netMu.Unlock()
	cur, err := s.store.Get(c.ID)
	if err != nil {
		return err
	}
	c.State = cur.State
	if c.State.Running {
		if err := s.connectRunning(c, n); err != nil {
			return err
		}
	}
	_, err = s.update(c.ID, func(r *ccontainer.Container) error {
		r.NetworkSettings = c.NetworkSettings
		return nil
	})
	return err
}

// checkConnect refuses a connection dockerd refuses.
func (s *Containers) checkConnect(c *ccontainer.Container, n cnetwork.Network) error {
	mode := c.HostConfig.NetworkMode
	switch {
	case n.Driver != cnetwork.DriverBridge || mode.IsHost() || mode.IsNone() || mode.IsContainer():
		return errdefs.Wrap(errdefs.ErrForbidden, fmt.Errorf("container %s: cannot connect a container with network mode %s to network %s", c.ID[:12], mode, n.Name))
	case c.NetworkSettings != nil && c.NetworkSettings.Networks[n.Name] != nil:
		return errdefs.Wrap(errdefs.ErrForbidden, fmt.Errorf("endpoint with name %s already exists in network %s", c.Name[1:], n.Name))
	}
	return nil
}

// connectRunning allocates c's endpoint on n and plugs it into the
// running container; on failure nothing is left.
func (s *Containers) connectRunning(c *ccontainer.Container, n cnetwork.Network) error {
	ep, err := s.allocateEndpoint(c, n, s.nextIfName(c.ID))
	if err != nil {
		return err
	}
	if err := attach(c.State.Pid, n, ep, false); err != nil {
		if _, _, rerr := s.nets.store.Release(n.ID, c.ID); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return err
	}
	return nil
}

// nextIfName is the first ethN that none of container id's endpoints uses.
func (s *Containers) nextIfName(id string) string {
	used := map[string]bool{}
	for _, n := range s.nets.store.List() {
		if ep, ok := n.Endpoints[id]; ok {
			used[ep.IfName] = true
		}
	}
	for i := 0; ; i++ {
		if name := fmt.Sprintf("eth%d", i); !used[name] {
			return name
		}
	}
}

// disconnect is POST /networks/{name}/disconnect: it removes the
// container's interface on the network (at once when it runs) and the
// network from its settings.
func (s *Containers) disconnect(_ context.Context, ref string, req network.DisconnectRequest) error {
	c, unlock, err := s.lock(req.Container)
	if err != nil {
		return err
	}
	defer unlock()
	n, err := s.nets.store.Get(ref)
	if err != nil {
		return err
	}
	if c.NetworkSettings == nil || c.NetworkSettings.Networks[n.Name] == nil {
		return errdefs.Wrap(errdefs.ErrForbidden, fmt.Errorf("container %s is not connected to network %s", c.ID, n.Name))
	}
	if ep, ok := n.Endpoints[c.ID]; ok {
		if err := cnetwork.Detach(ep.HostLink); err != nil {
			return err
		}
		if _, _, err := s.nets.store.Release(n.ID, c.ID); err != nil {
			return err
		}
	}
	if _, err := s.update(c.ID, func(r *ccontainer.Container) error {
		delete(r.NetworkSettings.Networks, n.Name)
		return nil
	}); err != nil {
		return err
	}
	if err := s.nets.applyFirewall(); err != nil {
		s.log.Warn("firewall rules after disconnect", "container", c.ID, "network", n.Name, "err", err)
	}
	if err := s.rewriteHosts(c.ID); err != nil {
		s.log.Warn("hosts file after disconnect", "container", c.ID, "network", n.Name, "err", err)
	}
	s.nets.publish(n, events.ActionDisconnect, "container", c.ID)
	return nil
}

// cloneSettings copies the network settings' map so that a change can be
// dropped.
func cloneSettings(ns *container.NetworkSettings) *container.NetworkSettings {
	out := &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{}}
	if ns != nil {
		*out = *ns
		out.Networks = map[string]*network.EndpointSettings{}
		for k, v := range ns.Networks {
			out.Networks[k] = v
		}
	}
	return out
}

// hwAddr is a MAC address string in the API's type; nil when empty or bad.
func hwAddr(s string) network.HardwareAddr {
	mac, err := net.ParseMAC(s)
	if err != nil {
		return nil
	}
	return network.HardwareAddr(mac)
}
