// Package oci_test is a black-box conformance suite for an OCI runtime with
// runc's command line. It drives the binary named by $OCI_RUNTIME (e.g.
// /usr/sbin/runc, to check the tests themselves) or, when that is unset,
// corral as `corral-runc`. Every test runs as root inside the sandbox of
// testutil (private mount and network namespaces, a per-run cgroup).
//
// Where runc 1.1.5 is known to fall short of the spec (or this host keeps it
// from passing), a test skips with the reason, but only when the runtime
// under test is runc: see skipIfRunc.
package oci_test

import (
	"os"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

func TestMain(m *testing.M) {
	code := testutil.Sandbox(m)
	if runtimeDir != "" {
		os.RemoveAll(runtimeDir)
	}
	os.Exit(code)
}
