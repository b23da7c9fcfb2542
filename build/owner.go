package build

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/corral-dev/corral/errdefs"
)

// setOwner sets the copy's owner from --chown ("user[:group]", names or
// IDs; "" is root), names looked up in the passwd and group files of the
// root filesystem root. A user alone gives its primary group (its ID for
// a numeric user), as docker does.
func (c *copySpec) setOwner(chown, root string) error {
	c.uid, c.gid = 0, 0
	if chown == "" {
		return nil
	}
	u, g, hasGroup := strings.Cut(chown, ":")
	uid, primary, err := lookupID(root, "/etc/passwd", u)
	if err != nil {
		return errdefs.InvalidArgument(fmt.Errorf("--chown=%s: user %s: %w", chown, u, err))
	}
	c.uid, c.gid = uid, primary
	if hasGroup {
		if c.gid, _, err = lookupID(root, "/etc/group", g); err != nil {
			return errdefs.InvalidArgument(fmt.Errorf("--chown=%s: group %s: %w", chown, g, err))
		}
	}
	return nil
}

// lookupID answers the ID of name in the passwd-style file (name:x:id:gid)
// of root, and the fourth field (a user's primary group; the ID itself for
// a number or a group).
func lookupID(root, file, name string) (id, primary int, err error) {
	if n, err := strconv.Atoi(name); err == nil {
		if n < 0 {
			return 0, 0, fmt.Errorf("negative ID")
		}
		return n, n, nil
	}
	if root == "" {
		return 0, 0, fmt.Errorf("no %s to look the name up in", file)
	}
	hp, err := securejoin.SecureJoin(root, file)
	if err != nil {
		return 0, 0, err
	}
	f, err := os.Open(hp)
	if err != nil {
		return 0, 0, fmt.Errorf("no %s to look the name up in", file)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 || fields[0] != name {
			continue
		}
		id, err := strconv.Atoi(fields[2])
		if err != nil {
			break
		}
		primary = id
		if len(fields) > 3 {
			if g, err := strconv.Atoi(fields[3]); err == nil {
				primary = g
			}
		}
		return id, primary, nil
	}
	return 0, 0, fmt.Errorf("not found in %s", file)
}
