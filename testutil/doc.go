// Package testutil holds what corral's tests share: RequireRoot, the Sandbox
// that re-executes a test binary inside throwaway network and mount
// namespaces, and fixtures (the corral binary, a busybox rootfs, a small
// static test program).
package testutil
