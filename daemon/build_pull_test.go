package daemon

import (
	"encoding/base64"
	"testing"
)

func TestAuthFor(t *testing.T) {
	hdr := base64.URLEncoding.EncodeToString([]byte(`{"https://index.docker.io/v1/":{"username":"hub"},"127.0.0.1:5000":{"username":"local"}}`))
	for domain, want := range map[string]string{"docker.io": "hub", "127.0.0.1:5000": "local", "example.com": ""} {
		a, err := authFor(hdr, domain)
		if err != nil || a.Username != want {
			t.Errorf("%s: %q %v, want %q", domain, a.Username, err, want)
		}
	}
	if _, err := authFor("%%%", "docker.io"); err == nil {
		t.Error("a bad header was accepted")
	}
}
