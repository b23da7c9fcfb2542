package reference

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	upstream "github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// The differential test: this package must agree with
// github.com/distribution/reference v0.6 (imported here only) on every
// input — the result, the error's message and class, and every accessor.

// impl is one implementation's API, adapted to common types so that one
// description function can serve both.
type impl struct {
	parse, parseNormalized, parseDockerRef, parseAny func(string) (any, error)
	withTag, withDigest, withName                    func(s string) (any, error)
	foreign                                          func(name string) string // Domain|Path|TrimNamed of a Named it did not make
	describe                                         func(ref any) string
	sentinels                                        []error
}

var ours = impl{
	parse:           func(s string) (any, error) { return Parse(s) },
	parseNormalized: func(s string) (any, error) { return ParseNormalizedNamed(s) },
	parseDockerRef:  func(s string) (any, error) { return ParseDockerRef(s) },
	parseAny:        func(s string) (any, error) { return ParseAnyReference(s) },
	withTag:         func(s string) (any, error) { return WithTag(repo{domain: "example.com", path: "a/b"}, s) },
	withDigest: func(s string) (any, error) {
		return WithDigest(tagged{repo: repo{path: "a"}, tag: "t"}, digest.Digest(s))
	},
	withName: func(s string) (any, error) { return withName(s) },
	foreign: func(name string) string {
		n := foreignNamed(name)
		return Domain(n) + "|" + Path(n) + "|" + TrimNamed(n).String()
	},
	describe: func(ref any) string {
		r := ref.(Reference)
		s := describeCommon(r)
		if n, ok := r.(Named); ok {
			s += fmt.Sprintf(" domain=%q path=%q fname=%q trim=%q nameonly=%v tagnameonly=%q",
				Domain(n), Path(n), FamiliarName(n), TrimNamed(n), IsNameOnly(n), TagNameOnly(n))
		}
		m1, e1 := FamiliarMatch("*", r)
		m2, e2 := FamiliarMatch("[", r)
		return s + fmt.Sprintf(" fstring=%q match=%v,%v,%v,%v", FamiliarString(r), m1, e1, m2, e2)
	},
	sentinels: []error{ErrReferenceInvalidFormat, ErrTagInvalidFormat, ErrDigestInvalidFormat,
		ErrNameContainsUppercase, ErrNameEmpty, ErrNameTooLong},
}

var theirs = impl{
	parse:           func(s string) (any, error) { return upstream.Parse(s) },
	parseNormalized: func(s string) (any, error) { return upstream.ParseNormalizedNamed(s) },
	parseDockerRef:  func(s string) (any, error) { return upstream.ParseDockerRef(s) },
	parseAny:        func(s string) (any, error) { return upstream.ParseAnyReference(s) },
	withTag: func(s string) (any, error) {
		n, _ := upstream.WithName("example.com/a/b")
		return upstream.WithTag(n, s)
	},
	withDigest: func(s string) (any, error) {
		n, _ := upstream.WithName("a")
		t, _ := upstream.WithTag(n, "t")
		return upstream.WithDigest(t, digest.Digest(s))
	},
	withName: func(s string) (any, error) { return upstream.WithName(s) },
	foreign: func(name string) string {
		n := foreignNamed(name)
		return upstream.Domain(n) + "|" + upstream.Path(n) + "|" + upstream.TrimNamed(n).String()
	},
	describe: func(ref any) string {
		r := ref.(upstream.Reference)
		s := describeCommon(r)
		if n, ok := r.(upstream.Named); ok {
			s += fmt.Sprintf(" domain=%q path=%q fname=%q trim=%q nameonly=%v tagnameonly=%q",
				upstream.Domain(n), upstream.Path(n), upstream.FamiliarName(n), upstream.TrimNamed(n),
				upstream.IsNameOnly(n), upstream.TagNameOnly(n))
		}
		m1, e1 := upstream.FamiliarMatch("*", r)
		m2, e2 := upstream.FamiliarMatch("[", r)
		return s + fmt.Sprintf(" fstring=%q match=%v,%v,%v,%v", upstream.FamiliarString(r), m1, e1, m2, e2)
	},
	sentinels: []error{upstream.ErrReferenceInvalidFormat, upstream.ErrTagInvalidFormat,
		upstream.ErrDigestInvalidFormat, upstream.ErrNameContainsUppercase, upstream.ErrNameEmpty,
		upstream.ErrNameTooLong},
}

// foreignNamed is a Named neither package made, to exercise their
// fallbacks that split Name() themselves.
type foreignNamed string

func (f foreignNamed) String() string { return string(f) }
func (f foreignNamed) Name() string   { return string(f) }

// describeCommon lists the parts of r that both packages' types expose by
// method, and which of the interfaces r satisfies.
func describeCommon(r interface{ String() string }) string {
	s := fmt.Sprintf("string=%q", r.String())
	if n, ok := r.(interface{ Name() string }); ok {
		s += fmt.Sprintf(" name=%q", n.Name())
	}
	if t, ok := r.(interface{ Tag() string }); ok {
		s += fmt.Sprintf(" tag=%q", t.Tag())
	}
	if d, ok := r.(interface{ Digest() digest.Digest }); ok {
		s += fmt.Sprintf(" digest=%q", d.Digest())
	}
	return s
}

// outcome describes one call's result in implementation-neutral terms.
func (m impl) outcome(ref any, err error) string {
	if err != nil {
		var is []int
		for i, s := range m.sentinels {
			if errors.Is(err, s) {
				is = append(is, i)
			}
		}
		for _, s := range []error{digest.ErrDigestInvalidFormat, digest.ErrDigestInvalidLength, digest.ErrDigestUnsupported} {
			if errors.Is(err, s) {
				is = append(is, -1)
			}
		}
		return fmt.Sprintf("error %q is=%v", err, is)
	}
	return m.describe(ref)
}

// outcomes runs every entry point on s.
func (m impl) outcomes(s string) []string {
	calls := []struct {
		name string
		f    func(string) (any, error)
	}{
		{"Parse", m.parse}, {"ParseNormalizedNamed", m.parseNormalized},
		{"ParseDockerRef", m.parseDockerRef}, {"ParseAnyReference", m.parseAny},
		{"WithTag", m.withTag}, {"WithDigest", m.withDigest}, {"WithName", m.withName},
	}
	var out []string
	for _, c := range calls {
		ref, err := c.f(s)
		out = append(out, c.name+": "+m.outcome(ref, err))
	}
	return append(out, "foreign: "+m.foreign(s))
}

func compare(t *testing.T, s string) {
	t.Helper()
	got, want := ours.outcomes(s), theirs.outcomes(s)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%q:\n got  %s\n want %s", s, got[i], want[i])
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// table is inputs chosen to cross every branch of the grammar.
var table = []string{
	"", " ", "busybox", "busybox:latest", "busybox:", "busybox@", ":latest", "@sha256:" + hex64,
	"library/busybox", "docker.io/busybox", "docker.io/library/busybox:1", "index.docker.io/busybox",
	"index.docker.io/library/busybox", "docker.io/library/a/b", "library/a/b", "me/app:v1.2",
	"localhost/app", "localhost:5000/app:tag", "localhost", "localhost:5000", "example.com",
	"example.com/app", "example.com:443/a/b/c", "ex-ample.com/a", "-ex.com/a", "ex-.com/a",
	"ex..com/a", "ex.com./a", "127.0.0.1:5000/a", "[::1]/a", "[::1]:5000/a:t", "[::1]:/a",
	"[::1]x/a", "[]/a", "[::g]/a", "[::1/a", "[::1]]/a", "[fe80::1%eth0]/a", "host:port/a", "host:/a",
	"Host/a", "HOST.COM/a", "a/B", "A", "Busybox", "busyBox:Tag", "UPPER/CASE", "docker.io/Foo",
	"a//b", "/a", "a/", "a/../b", "a/./b", "a..b", "a.b", "a_b", "a__b", "a___b", "a-b", "a---b",
	"a-", "-a", "_a", "a_", ".a", "a.", "a._b", "a-_b", "a__-b", "a/-b", "a/b-",
	"a:" + strings.Repeat("t", 128), "a:" + strings.Repeat("t", 129), "a:-t", "a:.t", "a:_t",
	"a:t.t-t_T", "a:t:t", "a:t/b", "a:5000/b", "a:5000/b:c", "a:5000", "a@b",
	"a@sha256:" + hex64, "a:t@sha256:" + hex64, "a@sha256:" + hex64[:63], "a@sha256:" + hex64 + "0",
	"a@sha256:" + strings.ToUpper(hex64), "a@sha512:" + hex64, "a@sha384:" + hex64,
	"a@md5:" + hex64[:32], "a@sha256:" + hex64[:31], "a@sha256+b64:" + hex64, "a@sha256.x-y_z:" + hex64,
	"a@1sha:" + hex64, "a@sha256:", "a@:" + hex64, "a@sha256:" + hex64 + "@x", "a@sha256:" + hex64 + ":t",
	"a:t@", "a:@sha256:" + hex64, "A@sha256:" + hex64, "A:T@SHA256:" + hex64,
	hex64, hex64[:63], strings.ToUpper(hex64), "sha256:" + hex64, "sha256:" + hex64[:10], "a/" + hex64,
	strings.Repeat("a", 255), strings.Repeat("a", 256), "example.com/" + strings.Repeat("a", 255),
	"example.com/" + strings.Repeat("a", 256), "library/" + strings.Repeat("a", 247),
	"library/" + strings.Repeat("a", 248), strings.Repeat("a", 247), strings.Repeat("a", 248),
	" a", "a ", "a b", "a\tb", "a\n", "é", "aé", "é.com/a", "a/é", "K", "k", "İ", "ǅ", "\xff", "a\x00",
	"a/b:c@sha256:" + hex64, "localhost/library/a", "docker.io/library", "docker.io/", "docker.io",
}

func TestDifferential(t *testing.T) {
	for _, s := range table {
		compare(t, s)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range table {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		compare(t, s)
	})
}

// fragments are the pieces TestDifferentialGenerated joins: valid and
// almost-valid parts of every production, so that random joins reach deep
// into the grammar more often than random bytes do.
var fragments = []string{
	"a", "b0", "Z", "ab", "9", "x-y", "x--y", "x_y", "x__y", "x___y", "x.y", "x..y", "-", "_", ".", "__",
	"/", "//", ":", "@", "[", "]", "::1", "fe80::", "5000", "localhost", "docker.io", "index.docker.io",
	"library", "example.com", "EXAMPLE", "sha256", "sha512", "md5", "+", "é", " ", hex64, hex64[:32],
	strings.ToUpper(hex64[:40]), strings.Repeat("t", 60), strings.Repeat("p", 120),
}

func TestDifferentialGenerated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for n := 1 + rng.IntN(8); n > 0; n-- {
			b.WriteString(fragments[rng.IntN(len(fragments))])
		}
		compare(t, b.String())
		if t.Failed() {
			return
		}
	}
}
