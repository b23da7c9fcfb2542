// Package testutil holds what corral's tests share: RequireRoot, the Sandbox
// that re-executes a test binary inside throwaway network and mount
// namespaces, and fixtures (the corral binary, a busybox rootfs, a small
// static test program).
//
// A package with tests that need root uses
//
//	func TestMain(m *testing.M) { os.Exit(testutil.Sandbox(m)) }
//
// and starts each such test with RequireRoot. Inside the sandbox the tests
// run in their own mount namespace (every mount private) and network
// namespace (only lo, up), with fresh tmpfs on /run/corral, /var/lib/corral
// and /tmp/corral-test, in a per-run cgroup of every mounted hierarchy that
// the sandbox parent empties (SIGKILL, after thawing) and removes, nested
// cgroups included, when the tests are done. The binaries that CorralBinary
// and TestProgram build are removed after the tests too, which only happens
// under Sandbox.
//
// testutil imports no corral package, so that the tests of every package,
// runtime and its subpackages included, can use it without an import cycle.
// The builds run `go build` offline when in the sandbox: the module's
// dependencies must already be in the module cache (go mod download).
package testutil
