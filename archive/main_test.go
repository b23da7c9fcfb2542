package archive

import (
	"os"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

// TestMain runs the tests in the sandbox: the ones that need root (chown,
// mknod, trusted.* xattrs, overlay mounts) run as root in a private mount
// namespace.
func TestMain(m *testing.M) { os.Exit(testutil.Sandbox(m)) }
