package container

import (
	"strconv"
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" means refused
	}{
		{"web", "/web"},
		{"/web", "/web"},
		{"ab", "/ab"},
		{"1a", "/1a"},
		{"a_b.c-d", "/a_b.c-d"},
		{"Web01", "/Web01"},
		{"k", ""},
		{"/k", ""},
		{"", ""},
		{"/", ""},
		{"//web", ""},
		{"_web", ""},
		{"-web", ""},
		{".web", ""},
		{"we b", ""},
		{"a/b", ""},
		{"../etc", ""},
		{"web:1", ""},
		{"wéb", ""},
		{"web\n", ""},
	}
	for _, tt := range tests {
		got, err := ValidateName(tt.in)
		if tt.want == "" {
			if err == nil || !errdefs.IsInvalidArgument(err) {
				t.Errorf("ValidateName(%q) = %q, %v; want an InvalidArgument error", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ValidateName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestValidateNameMessage(t *testing.T) {
	t.Parallel()
	// dockerd 20.10's message, quoting the name as given.
	for in, want := range map[string]string{
		"k":  "Invalid container name (k), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
		"/k": "Invalid container name (/k), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
	} {
		if _, err := ValidateName(in); err == nil || err.Error() != want {
			t.Errorf("ValidateName(%q) error = %v, want %q", in, err, want)
		}
	}
}

func TestRandomName(t *testing.T) {
	t.Parallel()
	for _, w := range append(append([]string{}, adjectives...), surnames...) {
		if w == "" || strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") != "" {
			t.Errorf("word %q is not lower-case letters", w)
		}
	}
	for retry := range 3 {
		for range 200 {
			n := RandomName(retry)
			if _, err := ValidateName(n); err != nil {
				t.Fatalf("RandomName(%d) = %q: %v", retry, n, err)
			}
			adj, sur, ok := strings.Cut(n, "_")
			if !ok || adj == "" || sur == "" {
				t.Fatalf("RandomName(%d) = %q, want adjective_surname", retry, n)
			}
			last := n[len(n)-1]
			if (retry > 0) != (last >= '0' && last <= '9') {
				t.Fatalf("RandomName(%d) = %q: a digit is appended on retries only", retry, n)
			}
		}
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 2000 {
		id := NewID()
		if err := ValidateID(id); err != nil {
			t.Fatal(err)
		}
		if _, err := strconv.ParseFloat(ShortID(id), 64); err == nil {
			t.Fatalf("NewID() = %s: its short ID parses as a number", id)
		}
		if seen[id] {
			t.Fatalf("NewID() returned %s twice", id)
		}
		seen[id] = true
	}
}

func TestValidateID(t *testing.T) {
	t.Parallel()
	good := strings.Repeat("a1", 32)
	for _, id := range []string{
		"", "abc", good[:63], good + "0", strings.ToUpper(good),
		"../" + good[3:], strings.Repeat("g", 64), good[:62] + "/x",
	} {
		if err := ValidateID(id); err == nil || !errdefs.IsInvalidArgument(err) {
			t.Errorf("ValidateID(%q) = %v, want InvalidArgument", id, err)
		}
	}
	if err := ValidateID(good); err != nil {
		t.Errorf("ValidateID(%q) = %v", good, err)
	}
	if got := ShortID(good); got != good[:12] {
		t.Errorf("ShortID = %q", got)
	}
}
