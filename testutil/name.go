package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// maxNameStem bounds the part of a unique name taken from the test's name.
const maxNameStem = 40

// UniqueName returns a name for a resource of the test: t.Name() lower-cased
// with every run of characters outside [a-z0-9-] turned into one '-', cut to
// 40 characters, then '-' and 8 random hex digits.
func UniqueName(t testing.TB) string {
	t.Helper()
	return sanitizeName(t.Name()) + "-" + randomHex(4)
}

func sanitizeName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := b.String()
	if len(s) > maxNameStem {
		s = s[:maxNameStem]
	}
	s = strings.Trim(s, "-")
	if s == "" {
		s = "test"
	}
	return s
}

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(buf)
}
