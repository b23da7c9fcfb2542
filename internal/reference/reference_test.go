package reference

import (
	"errors"
	"strings"
	"testing"
)

// These pin corral's own expectations (what Docker users see), independent
// of the upstream package the differential test compares against.

func TestParseDockerRef(t *testing.T) {
	const dgst = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct{ in, want, familiar, domain, path string }{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io", "library/busybox"},
		{"index.docker.io/me/app:1", "docker.io/me/app:1", "me/app:1", "docker.io", "me/app"},
		{"localhost/app", "localhost/app:latest", "localhost/app:latest", "localhost", "app"},
		{"[::1]:5000/a/b_c@" + dgst, "[::1]:5000/a/b_c@" + dgst, "[::1]:5000/a/b_c@" + dgst, "[::1]:5000", "a/b_c"},
		{"busybox:1@" + dgst, "docker.io/library/busybox@" + dgst, "busybox@" + dgst, "docker.io", "library/busybox"},
	}
	for _, tt := range tests {
		ref, err := ParseDockerRef(tt.in)
		if err != nil {
			t.Errorf("ParseDockerRef(%q): %v", tt.in, err)
			continue
		}
		if ref.String() != tt.want || FamiliarString(ref) != tt.familiar || Domain(ref) != tt.domain || Path(ref) != tt.path {
			t.Errorf("ParseDockerRef(%q) = %q (familiar %q, domain %q, path %q), want %q (%q, %q, %q)",
				tt.in, ref, FamiliarString(ref), Domain(ref), Path(ref), tt.want, tt.familiar, tt.domain, tt.path)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, msg string
		is      error
	}{
		{"", "invalid reference format", ErrReferenceInvalidFormat}, // "docker.io/library/"
		{"a//b", "invalid reference format", ErrReferenceInvalidFormat},
		{"a:-t", "invalid reference format", ErrReferenceInvalidFormat},
		{"Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase", nil},
		{"example.com/A", "invalid reference format: repository name (A) must be lowercase", nil},
		{strings.Repeat("a", 256), "repository name must not be more than 255 characters", ErrNameTooLong},
		{strings.Repeat("a", 64), "invalid repository name (" + strings.Repeat("a", 64) +
			"), cannot specify 64-byte hexadecimal strings", nil},
	}
	for _, tt := range tests {
		_, err := ParseNormalizedNamed(tt.in)
		if err == nil || err.Error() != tt.msg || tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("ParseNormalizedNamed(%q) = %v, want %q (is %v)", tt.in, err, tt.msg, tt.is)
		}
	}
	if _, err := Parse(""); !errors.Is(err, ErrNameEmpty) {
		t.Errorf("Parse(\"\") = %v, want ErrNameEmpty", err)
	}
	if _, err := Parse("A/b"); err != nil {
		t.Errorf("Parse(\"A/b\") = %v: an uppercase first component is a domain", err)
	}
	if _, err := Parse("a/B"); !errors.Is(err, ErrNameContainsUppercase) {
		t.Errorf("Parse(\"a/B\") = %v, want ErrNameContainsUppercase", err)
	}
}
