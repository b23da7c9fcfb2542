package spec

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/corral-dev/corral/errdefs"
)

// maxID is the largest uid or gid a user spec may name.
const maxID = 1<<31 - 1

// passwdEntry and groupEntry are the fields of /etc/passwd and /etc/group
// lines that user resolution reads.
type passwdEntry struct {
	name     string
	uid, gid int
}

type groupEntry struct {
	name    string
	gid     int
	members []string
}

// ResolveUser turns Docker's --user ("", "name", "uid", "name:group",
// "uid:gid", ...) and --group-add into the process user, as dockerd does,
// given the contents of the container's /etc/passwd and /etc/group (nil when
// the file does not exist):
//
//   - no user means uid 0, with the gid of uid 0's passwd entry if any;
//   - a name must be in passwd; a number need not be (gid then stays 0
//     unless passwd has the uid);
//   - an explicit group (name or number) replaces the primary gid;
//     otherwise the groups of /etc/group that list the user's name are the
//     supplementary groups;
//   - --group-add entries (names must be in /etc/group, numbers need not)
//     follow.
//
// AdditionalGids starts with the primary gid, as dockerd writes it. Unknown
// names and out-of-range numbers are errdefs.ErrInvalidArgument.
func ResolveUser(userSpec string, groupAdd []string, passwd, group []byte) (specs.User, error) {
	userArg, groupArg, _ := strings.Cut(userSpec, ":")
	uid, isUID, err := parseID(userArg)
	if err != nil {
		return specs.User{}, invalidUser(userSpec, err)
	}
	gid, isGID, err := parseID(groupArg)
	if err != nil {
		return specs.User{}, invalidUser(userSpec, err)
	}
	users := parsePasswd(passwd)
	var u specs.User
	var matched string
	if e, ok := findUser(users, userArg, uid, isUID); ok {
		matched, u.UID, u.GID = e.name, uint32(e.uid), uint32(e.gid)
	} else if userArg != "" {
		if !isUID {
			return specs.User{}, invalidUser(userSpec, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userArg))
		}
		u.UID = uint32(uid)
	}
	groups := parseGroup(group)
	var sgids []uint32
	switch {
	case groupArg != "":
		if e, ok := findGroup(groups, groupArg, gid, isGID); ok {
			u.GID = uint32(e.gid)
		} else if isGID {
			u.GID = uint32(gid)
		} else {
			return specs.User{}, invalidUser(userSpec, fmt.Errorf("unable to find group %s: no matching entries in group file", groupArg))
		}
	case matched != "":
		for _, g := range groups {
			if slices.Contains(g.members, matched) {
				sgids = append(sgids, uint32(g.gid))
			}
		}
	}
	added, err := additionalGroups(groupAdd, groups)
	if err != nil {
		return specs.User{}, err
	}
	u.AdditionalGids = uniqueIDs(append(append([]uint32{u.GID}, sgids...), added...))
	return u, nil
}

func invalidUser(spec string, err error) error {
	return errdefs.InvalidArgument(fmt.Errorf("invalid --user %q: %w", spec, err))
}

// parseID reads a numeric id; a non-number is not an error (it is a name).
func parseID(s string) (id int, numeric bool, err error) {
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, false, fmt.Errorf("%s: uids and gids must be in range 0-%d", s, maxID)
		}
		return 0, false, nil
	}
	if n < 0 || n > maxID {
		return 0, false, fmt.Errorf("%s: uids and gids must be in range 0-%d", s, maxID)
	}
	return n, true, nil
}

// findUser returns the first passwd entry for the user argument: by uid
// when numeric, by name otherwise, uid 0 when empty.
func findUser(users []passwdEntry, arg string, uid int, numeric bool) (passwdEntry, bool) {
	for _, e := range users {
		switch {
		case arg == "" && e.uid == 0, numeric && e.uid == uid, !numeric && arg != "" && e.name == arg:
			return e, true
		}
	}
	return passwdEntry{}, false
}

func findGroup(groups []groupEntry, arg string, gid int, numeric bool) (groupEntry, bool) {
	for _, g := range groups {
		if (numeric && g.gid == gid) || (!numeric && g.name == arg) {
			return g, true
		}
	}
	return groupEntry{}, false
}

// additionalGroups resolves --group-add entries in order.
func additionalGroups(names []string, groups []groupEntry) ([]uint32, error) {
	var out []uint32
	for _, n := range names {
		gid, numeric, err := parseID(n)
		if err != nil {
			return nil, errdefs.InvalidArgument(fmt.Errorf("invalid --group-add %q: %w", n, err))
		}
		if g, ok := findGroup(groups, n, gid, numeric); ok {
			out = append(out, uint32(g.gid))
			continue
		}
		if !numeric {
			return nil, errdefs.InvalidArgument(fmt.Errorf("invalid --group-add %q: unable to find group %s: no matching entries in group file", n, n))
		}
		out = append(out, uint32(gid))
	}
	return out, nil
}

// parsePasswd reads name:pass:uid:gid:... lines; malformed numbers read as
// 0, as libc-less parsers of these files do; entries whose ids are out of
// range are skipped.
func parsePasswd(data []byte) []passwdEntry {
	var out []passwdEntry
	eachLine(data, func(f []string) {
		e := passwdEntry{name: f[0], uid: field(f, 2), gid: field(f, 3)}
		if e.uid >= 0 && e.gid >= 0 {
			out = append(out, e)
		}
	})
	return out
}

func parseGroup(data []byte) []groupEntry {
	var out []groupEntry
	eachLine(data, func(f []string) {
		g := groupEntry{name: f[0], gid: field(f, 2)}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		if g.gid >= 0 {
			out = append(out, g)
		}
	})
	return out
}

func eachLine(data []byte, fn func([]string)) {
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fn(strings.Split(line, ":"))
	}
}

// field returns the number in column i, 0 when absent or malformed and -1
// when out of range.
func field(f []string, i int) int {
	if i >= len(f) {
		return 0
	}
	n, err := strconv.ParseInt(f[i], 10, 64)
	if err != nil {
		return 0
	}
	if n < 0 || n > maxID {
		return -1
	}
	return int(n)
}

func uniqueIDs(ids []uint32) []uint32 {
	out := ids[:0:0]
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
