package testutil

import (
	"os"
	"testing"
)

// RequireRoot skips the test unless the process runs with effective uid 0.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (euid 0); run the tests as root to include it")
	}
}
