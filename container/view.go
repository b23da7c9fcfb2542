package container

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// Summary is c as `docker ps` lists it (GET /containers/json), with its
// Status phrased at now. What needs other stores is left to the daemon:
// SizeRw and SizeRootFs, and Image when the typed reference now names
// another image (dockerd then shows the ID).
func Summary(c *Container, now time.Time) container.Summary {
	s := container.Summary{
		ID:      c.ID,
		Names:   []string{c.Name},
		Image:   c.Image,
		ImageID: c.ImageID,
		Command: Command(c.Path, c.Args),
		Created: c.Created.Unix(),
		Ports:   portSummaries(c),
		Labels:  maps.Clone(c.Labels()),
		State:   c.State.Status(),
		Status:  StatusString(&c.State, now),
		Mounts:  slices.Clone(c.Mounts),
		NetworkSettings: &container.NetworkSettingsSummary{
			Networks: map[string]*network.EndpointSettings{},
		},
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if s.Mounts == nil {
		s.Mounts = []container.MountPoint{}
	}
	if c.HostConfig != nil {
		s.HostConfig.NetworkMode = string(c.HostConfig.NetworkMode)
		s.HostConfig.Annotations = maps.Clone(c.HostConfig.Annotations)
	}
	if h := c.State.Health; h != nil {
		s.Health = &container.HealthSummary{Status: h.Status, FailingStreak: h.FailingStreak}
	}
	if c.NetworkSettings != nil {
		for name, ep := range c.NetworkSettings.Networks {
			if ep != nil {
				s.NetworkSettings.Networks[name] = endpointSummary(ep)
			}
		}
	}
	return s
}

// endpointSummary is the part of an endpoint that `docker ps` shows.
func endpointSummary(ep *network.EndpointSettings) *network.EndpointSettings {
	out := &network.EndpointSettings{
		NetworkID: ep.NetworkID, EndpointID: ep.EndpointID,
		Gateway: ep.Gateway, IPAddress: ep.IPAddress, IPPrefixLen: ep.IPPrefixLen,
		IPv6Gateway: ep.IPv6Gateway, GlobalIPv6Address: ep.GlobalIPv6Address,
		GlobalIPv6PrefixLen: ep.GlobalIPv6PrefixLen,
		MacAddress:          slices.Clone(ep.MacAddress), GwPriority: ep.GwPriority,
	}
	if ep.IPAMConfig != nil {
		out.IPAMConfig = &network.EndpointIPAMConfig{
			IPv4Address: ep.IPAMConfig.IPv4Address, IPv6Address: ep.IPAMConfig.IPv6Address,
		}
	}
	return out
}

// Command is the COMMAND column of `docker ps`, as dockerd builds it: the
// path, then the arguments, each quoted with ” when it holds a space.
func Command(path string, args []string) string {
	if len(args) == 0 {
		return path
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if strings.Contains(a, " ") {
			quoted[i] = "'" + a + "'"
		}
	}
	return path + " " + strings.Join(quoted, " ")
}

// StatusString is the STATUS column of `docker ps` at now: "Created",
// "Up 3 seconds", "Up 2 minutes (Paused)", "Up 5 hours (healthy)",
// "Restarting (1) 4 seconds ago", "Exited (0) 5 minutes ago",
// "Removal In Progress", "Dead"; dockerd's phrasing.
func StatusString(s *State, now time.Time) string {
	since := func(t time.Time) string { return units.HumanDuration(now.Sub(t)) }
	switch {
	case s.Running && s.Paused:
		return "Up " + since(s.StartedAt) + " (Paused)"
	case s.Running && s.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, since(s.FinishedAt))
	case s.Running && s.Health != nil && s.Health.Status != "" && s.Health.Status != container.NoHealthcheck:
		return "Up " + since(s.StartedAt) + " (" + healthPhrase(s.Health.Status) + ")"
	case s.Running:
		return "Up " + since(s.StartedAt)
	case s.Removing:
		return "Removal In Progress"
	case s.Dead:
		return "Dead"
	case s.StartedAt.IsZero():
		return "Created"
	case s.FinishedAt.IsZero():
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, since(s.FinishedAt))
}

func healthPhrase(h container.HealthStatus) string {
	if h == container.Starting {
		return "health: starting"
	}
	return string(h)
}

// portSummaries lists c's ports as `docker ps` does: each published binding,
// and exposed ports without one; sorted for a stable output.
func portSummaries(c *Container) []container.PortSummary {
	out := []container.PortSummary{}
	if c.NetworkSettings == nil {
		return out
	}
	for port, bindings := range c.NetworkSettings.Ports {
		if len(bindings) == 0 {
			out = append(out, container.PortSummary{PrivatePort: port.Num(), Type: string(port.Proto())})
			continue
		}
		for _, b := range bindings {
			host, err := strconv.ParseUint(b.HostPort, 10, 16)
			if err != nil {
				continue
			}
			out = append(out, container.PortSummary{
				IP: b.HostIP, PrivatePort: port.Num(), PublicPort: uint16(host), Type: string(port.Proto()),
			})
		}
	}
	slices.SortFunc(out, func(a, b container.PortSummary) int {
		return cmp.Or(cmp.Compare(a.PrivatePort, b.PrivatePort), strings.Compare(a.Type, b.Type),
			cmp.Compare(a.PublicPort, b.PublicPort), a.IP.Compare(b.IP))
	})
	return out
}

// Inspect is c as `docker inspect` shows it (GET /containers/{id}/json). It
// shares nothing with c. What the record does not hold is left to the
// daemon: ExecIDs, GraphDriver or Storage data, sizes, and legacy fields
// of older API versions.
func Inspect(c *Container) (container.InspectResponse, error) {
	cp, err := clone(c)
	if err != nil {
		return container.InspectResponse{}, err
	}
	r := container.InspectResponse{
		ID:              cp.ID,
		Created:         cp.Created.UTC().Format(time.RFC3339Nano),
		Path:            cp.Path,
		Args:            cp.Args,
		State:           inspectState(&cp.State),
		Image:           cp.ImageID,
		ResolvConfPath:  cp.ResolvConfPath,
		HostnamePath:    cp.HostnamePath,
		HostsPath:       cp.HostsPath,
		LogPath:         cp.LogPath,
		Name:            cp.Name,
		RestartCount:    cp.RestartCount,
		Driver:          cp.Driver,
		Platform:        cmp.Or(cp.Platform, "linux"),
		HostConfig:      cp.HostConfig,
		Mounts:          cp.Mounts,
		Config:          cp.Config,
		NetworkSettings: cp.NetworkSettings,
	}
	if r.Args == nil {
		r.Args = []string{}
	}
	if r.Mounts == nil {
		r.Mounts = []container.MountPoint{}
	}
	if r.NetworkSettings == nil {
		r.NetworkSettings = &container.NetworkSettings{}
	}
	return r, nil
}

// inspectState is State as the API has it: times in RFC 3339 with
// nanoseconds, the zero time as "0001-01-01T00:00:00Z" as dockerd prints it.
func inspectState(s *State) *container.State {
	return &container.State{
		Status:     s.Status(),
		Running:    s.Running,
		Paused:     s.Paused,
		Restarting: s.Restarting,
		OOMKilled:  s.OOMKilled,
		Dead:       s.Dead,
		Pid:        s.Pid,
		ExitCode:   s.ExitCode,
		Error:      s.Error,
		StartedAt:  s.StartedAt.UTC().Format(time.RFC3339Nano),
		FinishedAt: s.FinishedAt.UTC().Format(time.RFC3339Nano),
		Health:     s.Health,
	}
}
