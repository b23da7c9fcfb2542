// Package e2e_test holds black-box tests of the built corral binary: its
// command line, driven as a user would, beside the real tools it must
// interoperate with (podman, skopeo, Debian's docker-registry). Every test
// runs as root inside the sandbox of testutil (private mount and network
// namespaces, a per-run cgroup); peers run only there.
package e2e_test

import (
	"os"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

func TestMain(m *testing.M) {
	os.Exit(testutil.Sandbox(m))
}
