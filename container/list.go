package container

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/corral-dev/corral/errdefs"
)

// ListOptions are the parameters of GET /containers/json.
type ListOptions struct {
	// All lists stopped containers too; Limit > 0 lists at most that many
	// of the newest, stopped ones included, as dockerd does.
	All   bool
	Limit int
	// Filters are the filters= parameter: for each key, its values. Keys
	// are dockerd's: id, name, label, status, exited, ancestor, before,
	// since, volume, network, health, publish, expose, is-task, isolation.
	Filters map[string][]string
	// Ancestor resolves an ancestor filter's value (an image reference or
	// ID) to the IDs of that image and of the images built on it, as the
	// image store knows them. When nil, a container matches when the value
	// is its Image, its ImageID, or a prefix of its ImageID's digest.
	Ancestor func(value string) []string
}

var acceptedFilters = map[string]bool{
	"id": true, "name": true, "label": true, "status": true, "exited": true,
	"ancestor": true, "before": true, "since": true, "volume": true,
	"network": true, "health": true, "publish": true, "expose": true,
	"is-task": true, "isolation": true,
}

// listFilter is ListOptions parsed: what each container is matched against.
type listFilter struct {
	ListOptions
	names     []nameMatcher
	exited    []int
	ancestors []string
	images    map[string]bool // image IDs Ancestor resolved ancestors to
	before    string          // container IDs, "" when not given
	since     string
	publish   map[string]bool // "80/tcp"
	expose    map[string]bool
	isTask    *bool
}

// nameMatcher matches a name filter's value: exactly or as a regular
// expression (dockerd's filters.Match).
type nameMatcher struct {
	exact string
	re    *regexp.Regexp
}

func (m nameMatcher) match(s string) bool {
	return s == m.exact || (m.re != nil && m.re.MatchString(s))
}

// List returns the containers that opts selects, newest first, filtered as
// dockerd filters `docker ps`. Bad filters are InvalidArgument errors with
// dockerd's wording; a before or since filter naming no container is
// NotFound.
func (s *Store) List(opts ListOptions) ([]*Container, error) {
	f, err := s.parseFilters(opts)
	if err != nil {
		return nil, err
	}
	out := []*Container{}
	for _, c := range s.All() {
		switch f.include(c, len(out)) {
		case listStop:
			return out, nil
		case listInclude:
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *Store) parseFilters(opts ListOptions) (*listFilter, error) {
	f := &listFilter{ListOptions: opts}
	for key, vals := range opts.Filters {
		if !acceptedFilters[key] {
			return nil, errdefs.InvalidArgument(fmt.Errorf("invalid filter '%s'", key))
		}
		var err error
		for _, v := range vals {
			if err = f.parseOne(s, key, v); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

// parseOne takes in one key=value filter.
func (f *listFilter) parseOne(s *Store, key, v string) error {
	switch key {
	case "name":
		re, _ := regexp.Compile(v) // an invalid expression matches exactly
		f.names = append(f.names, nameMatcher{exact: v, re: re})
	case "exited":
		code, err := strconv.Atoi(v)
		if err != nil {
			return errdefs.InvalidArgument(fmt.Errorf("invalid filter 'exited=%s': %w", v, err))
		}
		f.exited = append(f.exited, code)
	case "status":
		if err := container.ValidateContainerState(container.ContainerState(v)); err != nil {
			return errdefs.InvalidArgument(fmt.Errorf("invalid filter 'status=%s': %w", v, err))
		}
		f.All = true
	case "health":
		if err := container.ValidateHealthStatus(container.HealthStatus(v)); err != nil {
			return errdefs.InvalidArgument(fmt.Errorf("invalid filter 'health=%s': %w", v, err))
		}
	case "before", "since":
		c, err := s.Get(v)
		if err != nil {
			return err
		}
		if key == "before" {
			f.before = c.ID
		} else {
			f.since = c.ID
		}
	case "ancestor":
		f.addAncestor(v)
	case "publish", "expose":
		return f.addPorts(key, v)
	case "is-task":
		b, err := strconv.ParseBool(v)
		if err != nil || (f.isTask != nil && *f.isTask != b) {
			return errdefs.InvalidArgument(fmt.Errorf("invalid filter 'is-task=%s'", v))
		}
		f.isTask = &b
	}
	return nil
}

func (f *listFilter) addAncestor(v string) {
	f.ancestors = append(f.ancestors, v)
	if f.Ancestor == nil {
		return
	}
	if f.images == nil {
		f.images = map[string]bool{}
	}
	for _, id := range f.Ancestor(v) {
		f.images[id] = true
	}
}

// addPorts takes in a publish or expose value: "80", "80/udp",
// "8000-8080/tcp".
func (f *listFilter) addPorts(key, v string) error {
	if strings.Contains(v, ":") {
		return errdefs.InvalidArgument(fmt.Errorf("filter for '%s' should not contain ':': %s", key, v))
	}
	pr, err := network.ParsePortRange(v)
	if err != nil {
		return errdefs.InvalidArgument(fmt.Errorf("error while looking up for %s %s: %w", key, v, err))
	}
	set := &f.publish
	if key == "expose" {
		set = &f.expose
	}
	if *set == nil {
		*set = map[string]bool{}
	}
	for p := range pr.All() {
		(*set)[p.String()] = true
	}
	return nil
}
