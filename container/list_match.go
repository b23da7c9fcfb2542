package container

import (
	"fmt"
	"slices"
	"strings"
)

type listAction int

const (
	listInclude listAction = iota
	listExclude
	listStop
)

// include decides on c, the next container newest first, when n have been
// included so far. The order of the tests is dockerd's: before and since
// walk the list whatever the other filters say.
func (f *listFilter) include(c *Container, n int) listAction {
	if f.before != "" {
		if c.ID == f.before {
			f.before = ""
		}
		return listExclude
	}
	if f.since != "" && c.ID == f.since {
		return listStop
	}
	if !c.State.Running && !f.All && f.Limit <= 0 {
		return listExclude
	}
	if !f.matchName(c) || !f.matchValues("id", c.ID, strings.HasPrefix) ||
		!f.matchLabels(c) || (f.isTask != nil && *f.isTask) {
		return listExclude
	}
	if f.Limit > 0 && n == f.Limit {
		return listStop
	}
	ok := f.matchExited(c) &&
		f.matchValues("status", string(c.State.Status()), equal) &&
		f.matchValues("health", string(c.State.HealthStatus()), equal) &&
		f.matchVolume(c) && f.matchAncestor(c) && f.matchNetwork(c) && f.matchPorts(c)
	if !ok {
		return listExclude
	}
	return listInclude
}

func equal(a, b string) bool { return a == b }

// matchValues reports whether s matches one of key's values (or key has
// none) by match(s, value).
func (f *listFilter) matchValues(key, s string, match func(s, value string) bool) bool {
	vals := f.Filters[key]
	if len(vals) == 0 {
		return true
	}
	return slices.ContainsFunc(vals, func(v string) bool { return match(s, v) })
}

// matchName matches the name with its "/" and without.
func (f *listFilter) matchName(c *Container) bool {
	if len(f.names) == 0 {
		return true
	}
	bare := strings.TrimPrefix(c.Name, "/")
	return slices.ContainsFunc(f.names, func(m nameMatcher) bool {
		return m.match(c.Name) || m.match(bare)
	})
}

// matchLabels needs every label filter ("key" or "key=value") to hold.
func (f *listFilter) matchLabels(c *Container) bool {
	vals := f.Filters["label"]
	if len(vals) == 0 {
		return true
	}
	labels := c.Labels()
	for _, v := range vals {
		key, want, hasValue := strings.Cut(v, "=")
		got, ok := labels[key]
		if !ok || (hasValue && got != want) {
			return false
		}
	}
	return true
}

// matchExited needs a container that ran and exited with one of the codes.
func (f *listFilter) matchExited(c *Container) bool {
	if len(f.exited) == 0 {
		return true
	}
	st := &c.State
	return !st.Running && !st.StartedAt.IsZero() && slices.Contains(f.exited, st.ExitCode)
}

// matchVolume matches a mount's destination, or its volume name (its source
// for a bind mount).
func (f *listFilter) matchVolume(c *Container) bool {
	vals := f.Filters["volume"]
	if len(vals) == 0 {
		return true
	}
	for _, m := range c.Mounts {
		key := m.Name
		if key == "" {
			key = m.Source
		}
		if slices.Contains(vals, m.Destination) || slices.Contains(vals, key) {
			return true
		}
	}
	return false
}

// matchAncestor matches the image IDs Ancestor resolved, or without it the
// values as typed: the container's image as typed, its ID, or an ID prefix.
func (f *listFilter) matchAncestor(c *Container) bool {
	if len(f.ancestors) == 0 {
		return true
	}
	if f.Ancestor != nil {
		return f.images[c.ImageID]
	}
	digest := strings.TrimPrefix(c.ImageID, "sha256:")
	for _, v := range f.ancestors {
		hex := strings.TrimPrefix(v, "sha256:")
		if v == c.Image || v == c.ImageID || (hex != "" && strings.HasPrefix(digest, hex)) {
			return true
		}
	}
	return false
}

// matchNetwork matches a network's name, or a prefix of its ID.
func (f *listFilter) matchNetwork(c *Container) bool {
	vals := f.Filters["network"]
	if len(vals) == 0 {
		return true
	}
	if c.NetworkSettings == nil {
		return false
	}
	for _, v := range vals {
		if _, ok := c.NetworkSettings.Networks[v]; ok {
			return true
		}
		for _, ep := range c.NetworkSettings.Networks {
			if ep != nil && ep.NetworkID != "" && strings.HasPrefix(ep.NetworkID, v) {
				return true
			}
		}
	}
	return false
}

// matchPorts matches a published (host) or exposed (container) port.
func (f *listFilter) matchPorts(c *Container) bool {
	if len(f.publish) == 0 && len(f.expose) == 0 {
		return true
	}
	for _, p := range portSummaries(c) {
		if f.publish[fmt.Sprintf("%d/%s", p.PublicPort, p.Type)] ||
			f.expose[fmt.Sprintf("%d/%s", p.PrivatePort, p.Type)] {
			return true
		}
	}
	return false
}
