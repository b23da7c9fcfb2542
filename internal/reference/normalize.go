package reference

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Docker Hub's names: what a familiar name is short for.
const (
	defaultDomain = "docker.io"
	legacyDomain  = "index.docker.io" // rewritten to defaultDomain
	officialRepo  = "library/"
	defaultTag    = "latest"
	localhost     = "localhost"
)

// ParseNormalizedNamed parses a name as typed in Docker's UI into its full
// form: "ubuntu" → "docker.io/library/ubuntu", "me/app:1" →
// "docker.io/me/app:1". It adds no default tag (see TagNameOnly).
func ParseNormalizedNamed(s string) (Named, error) {
	if isIdentifier(s) {
		return nil, fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s)
	}
	domain, remainder := splitDockerDomain(s)
	remote, _, _ := strings.Cut(remainder, ":")
	if strings.ToLower(remote) != remote {
		return nil, fmt.Errorf("invalid reference format: repository name (%s) must be lowercase", remote)
	}
	ref, err := Parse(domain + "/" + remainder)
	if err != nil {
		return nil, err
	}
	named, ok := ref.(Named)
	if !ok { // unreachable: a parsed name is never empty
		return nil, fmt.Errorf("reference %s has no name", ref.String())
	}
	return named, nil
}

// ParseDockerRef is ParseNormalizedNamed followed by Docker's rules: a
// bare name gets the tag "latest", and a reference with both a tag and a
// digest keeps only the digest.
func ParseDockerRef(s string) (Named, error) {
	named, err := ParseNormalizedNamed(s)
	if err != nil {
		return nil, err
	}
	if tc, ok := named.(taggedCanonical); ok {
		bare, err := withName(tc.Name())
		if err != nil {
			return nil, err
		}
		return WithDigest(bare, tc.digest)
	}
	return TagNameOnly(named), nil
}

// ParseAnyReference parses s as an image ID (64 hex digits, taken as
// sha256), a digest, or a familiar name.
func ParseAnyReference(s string) (Reference, error) {
	if isIdentifier(s) {
		return digestOnly("sha256:" + s), nil
	}
	if dgst, err := digest.Parse(s); err == nil {
		return digestOnly(dgst), nil
	}
	return ParseNormalizedNamed(s)
}

// TagNameOnly adds the tag "latest" to a name that has neither tag nor
// digest, and returns any other reference unchanged.
func TagNameOnly(ref Named) Named {
	if !IsNameOnly(ref) {
		return ref
	}
	t, err := WithTag(ref, defaultTag)
	if err != nil {
		panic(err) // "latest" is a valid tag
	}
	return t
}

// splitDockerDomain splits a familiar name into a domain and the rest. The
// first component is a domain only if it is "localhost", holds a '.' or ':',
// or has an uppercase letter (which a path may not); otherwise the domain
// is Docker Hub, and a one-component Hub name goes under "library/".
func splitDockerDomain(name string) (domain, remainder string) {
	first, rest, ok := strings.Cut(name, "/")
	switch {
	case !ok:
		return defaultDomain, officialRepo + name
	case first == localhost:
		domain, remainder = first, rest
	case first == legacyDomain:
		domain, remainder = defaultDomain, rest
	case strings.ContainsAny(first, ".:"), strings.ToLower(first) != first:
		domain, remainder = first, rest
	default:
		domain, remainder = defaultDomain, name
	}
	if domain == defaultDomain && !strings.ContainsRune(remainder, '/') {
		remainder = officialRepo + remainder
	}
	return domain, remainder
}

// familiar drops Docker Hub's domain and, for a one-level name under
// "library/", that prefix too.
func (r repo) familiar() repo {
	if r.domain != defaultDomain {
		return r
	}
	r.domain = ""
	if rest, ok := strings.CutPrefix(r.path, officialRepo); ok && !strings.ContainsRune(rest, '/') {
		r.path = rest
	}
	return r
}
