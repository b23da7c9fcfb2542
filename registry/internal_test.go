package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		in   []string
		want []challenge
	}{
		{[]string{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"`},
			[]challenge{{"bearer", map[string]string{"realm": "https://auth.docker.io/token",
				"service": "registry.docker.io", "scope": "repository:library/busybox:pull"}}}},
		{[]string{`Basic realm="Registry Realm"`}, []challenge{{"basic", map[string]string{"realm": "Registry Realm"}}}},
		{[]string{`basic`}, []challenge{{"basic", map[string]string{}}}},
		// Two challenges in one value, unquoted and escaped values.
		{[]string{`Basic realm=x, Bearer realm="a\"b", scope="repository:a:pull,push"`},
			[]challenge{{"basic", map[string]string{"realm": "x"}},
				{"bearer", map[string]string{"realm": `a"b`, "scope": "repository:a:pull,push"}}}},
		{[]string{`Bearer realm="r",error="insufficient_scope"`, `Basic realm="b"`},
			[]challenge{{"bearer", map[string]string{"realm": "r", "error": "insufficient_scope"}},
				{"basic", map[string]string{"realm": "b"}}}},
		{[]string{``, ` , `}, nil},
		{[]string{`Bearer realm="unterminated`}, []challenge{{"bearer", map[string]string{"realm": "unterminated"}}}},
	}
	for _, tt := range tests {
		if got := parseChallenges(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseChallenges(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	h := http.Header{"Www-Authenticate": {`Basic realm="b"`, `Bearer realm="r"`}}
	if ch := pickChallenge(h); ch == nil || ch.scheme != "bearer" {
		t.Errorf("pickChallenge = %v, want bearer", ch)
	}
}

func TestRangeEnd(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0-0", 0, true}, {"0-99", 100, true}, {"bytes=0-9", 10, true},
		{"", 0, false}, {"5-9", 0, false}, {"0-x", 0, false}, {"0--1", 0, false},
	}
	for _, tt := range tests {
		got, ok := rangeEnd(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("rangeEnd(%q) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestHosts(t *testing.T) {
	c := New(Options{Insecure: []string{"reg.lan:5000", "build.lan", "10.1.0.0/16"}})
	for _, host := range []string{"localhost", "localhost:5000", "127.0.0.1:5000", "127.9.9.9",
		"[::1]:5000", "::1", "reg.lan:5000", "build.lan:443", "build.lan", "10.1.2.3:5000"} {
		if !c.isInsecure(host) {
			t.Errorf("isInsecure(%q) = false", host)
		}
	}
	for _, host := range []string{"reg.lan", "reg.lan:5001", "registry-1.docker.io", "10.2.0.1",
		"localhost.evil.com", "127.0.0.1.nip.io"} {
		if c.isInsecure(host) {
			t.Errorf("isInsecure(%q) = true", host)
		}
	}
	for in, want := range map[string]string{
		"docker.io": "registry-1.docker.io", "index.docker.io": "registry-1.docker.io",
		"quay.io": "quay.io", "localhost:5000": "localhost:5000",
	} {
		if got := apiHost(in); got != want {
			t.Errorf("apiHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// Credentials never go to a token realm over plain http unless its host is
// insecure.
func TestRealmRefusesPlainHTTPWithCredentials(t *testing.T) {
	c := New(Options{})
	ch := challenge{scheme: "bearer", params: map[string]string{"realm": "http://auth.example.com/token"}}
	if _, err := c.realmURL(ch, true); !errors.Is(err, errdefs.ErrForbidden) {
		t.Fatalf("realmURL(http, creds) = %v, want forbidden", err)
	}
	if _, err := c.realmURL(ch, false); err != nil {
		t.Fatalf("anonymous over http: %v", err)
	}
	ch.params["realm"] = "http://127.0.0.1:8080/token"
	if _, err := c.realmURL(ch, true); err != nil {
		t.Fatalf("loopback realm: %v", err)
	}
	for _, bad := range []string{"", "file:///etc/passwd", "https://", "ftp://x/y"} {
		ch.params["realm"] = bad
		if _, err := c.realmURL(ch, false); !errdefs.IsInvalidArgument(err) {
			t.Errorf("realm %q: %v, want invalid argument", bad, err)
		}
	}
}

func TestRetriable(t *testing.T) {
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		ctx  context.Context
		err  error
		want bool
	}{
		{ctx, &ResponseError{StatusCode: 500}, true},
		{ctx, &ResponseError{StatusCode: 503}, true},
		{ctx, &ResponseError{StatusCode: 429}, true},
		{ctx, &ResponseError{StatusCode: 501}, false},
		{ctx, &ResponseError{StatusCode: 404}, false},
		{ctx, &ResponseError{StatusCode: 401}, false},
		{ctx, fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{ctx, noRetry(io.ErrUnexpectedEOF), false},
		{ctx, fmt.Errorf("get: %w", context.DeadlineExceeded), false},
		{canceled, io.ErrUnexpectedEOF, false},
	}
	for _, tt := range tests {
		if got := retriable(tt.ctx, tt.err); got != tt.want {
			t.Errorf("retriable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// Headers come from the network: no input may crash the parser.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{`Bearer realm="a",service="b"`, `Basic realm="x\`, `a="`, `,=,"\`, `b c=d e`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, ch := range parseChallenges([]string{s}) {
			if ch.scheme == "" {
				t.Fatalf("empty scheme from %q", s)
			}
		}
	})
}
