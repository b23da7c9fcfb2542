package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/corral-dev/corral/errdefs"
)

// ulimitNames are the resources --ulimit accepts (Docker's list: "as" is
// left out).
var ulimitNames = []string{
	"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
	"nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
}

// Default soft and hard RLIMIT_NOFILE of containers: systemd's default
// since v240, which Docker's service file uses.
const (
	defaultNofileSoft = 1024
	defaultNofileHard = 524288
)

// DefaultUlimits returns the daemon-wide ulimits a container gets unless
// --ulimit says otherwise: nofile 1024:524288, each capped at hostHard, the
// hard RLIMIT_NOFILE of the daemon (raising a hard limit needs
// CAP_SYS_RESOURCE); hostHard 0 means no cap.
func DefaultUlimits(hostHard uint64) []*container.Ulimit {
	soft, hard := int64(defaultNofileSoft), int64(defaultNofileHard)
	if hostHard > 0 && hostHard < uint64(hard) {
		hard = int64(hostHard)
		soft = min(soft, hard)
	}
	return []*container.Ulimit{{Name: "nofile", Soft: soft, Hard: hard}}
}

// ParseUlimit parses --ulimit's "name=soft[:hard]" (hard defaults to soft;
// -1 is unlimited). Errors are errdefs.ErrInvalidArgument.
func ParseUlimit(s string) (*container.Ulimit, error) {
	name, limits, ok := strings.Cut(s, "=")
	if !ok {
		return nil, badUlimit(s, "want name=soft[:hard]")
	}
	softStr, hardStr, hasHard := strings.Cut(limits, ":")
	soft, err := strconv.ParseInt(softStr, 10, 64)
	if err != nil {
		return nil, badUlimit(s, fmt.Sprintf("soft limit %q is not a number", softStr))
	}
	hard := soft
	if hasHard {
		if hard, err = strconv.ParseInt(hardStr, 10, 64); err != nil {
			return nil, badUlimit(s, fmt.Sprintf("hard limit %q is not a number", hardStr))
		}
	}
	u := &container.Ulimit{Name: name, Soft: soft, Hard: hard}
	if err := checkUlimit(u); err != nil {
		return nil, err
	}
	return u, nil
}

func badUlimit(s, why string) error {
	return errdefs.InvalidArgument(fmt.Errorf("invalid --ulimit %q: %s", s, why))
}

// checkUlimit checks the name and that soft <= hard (-1 is unlimited).
func checkUlimit(u *container.Ulimit) error {
	s := fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard)
	if !slices.Contains(ulimitNames, u.Name) {
		return badUlimit(s, fmt.Sprintf("unknown resource %q (one of %s)", u.Name, strings.Join(ulimitNames, ", ")))
	}
	if u.Soft < -1 || u.Hard < -1 {
		return badUlimit(s, "limits must be -1 (unlimited) or at least 0")
	}
	if u.Hard != -1 && (u.Soft == -1 || u.Soft > u.Hard) {
		return badUlimit(s, fmt.Sprintf("soft limit must be less than or equal to hard limit: %d > %d", u.Soft, u.Hard))
	}
	return nil
}

// rlimits merges the container's ulimits over the daemon's defaults (the
// container's win by name) into OCI rlimits: the container's in order, then
// the defaults not overridden, sorted by name.
func rlimits(own, defaults []*container.Ulimit) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	seen := map[string]bool{}
	add := func(u *container.Ulimit) error {
		if u == nil || seen[u.Name] {
			return nil
		}
		if err := checkUlimit(u); err != nil {
			return err
		}
		seen[u.Name] = true
		out = append(out, specs.POSIXRlimit{
			Type: "RLIMIT_" + strings.ToUpper(u.Name), Soft: uint64(u.Soft), Hard: uint64(u.Hard),
		})
		return nil
	}
	for _, u := range own {
		if err := add(u); err != nil {
			return nil, err
		}
	}
	defs := slices.DeleteFunc(slices.Clone(defaults), func(u *container.Ulimit) bool { return u == nil })
	slices.SortStableFunc(defs, func(a, b *container.Ulimit) int { return strings.Compare(a.Name, b.Name) })
	for _, u := range defs {
		if err := add(u); err != nil {
			return nil, err
		}
	}
	return out, nil
}
