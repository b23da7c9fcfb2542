// Package reference parses and formats image references
// ("docker.io/library/busybox:latest", "localhost:5000/app@sha256:…") with
// the grammar, normalization, familiar forms and error values of
// github.com/distribution/reference v0.6, which it replaces.
//
// It exists for start-up time: the upstream package compiles a dozen regular
// expressions in its init, ~0.5 ms of every corral process whether or not
// the process parses a reference. This one scans by hand and has no init
// work. Only the part of the upstream API that corral uses is here; a
// differential test (reference_diff_test.go) keeps the two in agreement.
package reference

import (
	"errors"
	"path"

	"github.com/opencontainers/go-digest"
)

// NameTotalLengthMax is the longest repository path allowed (the domain is
// not counted).
const NameTotalLengthMax = 255

// The errors Parse returns; their messages match the upstream package's,
// which clients and tests compare against. ErrNameTooLong spells out
// NameTotalLengthMax so that no error is built by a call at init.
var (
	ErrReferenceInvalidFormat = errors.New("invalid reference format")
	ErrTagInvalidFormat       = errors.New("invalid tag format")
	ErrDigestInvalidFormat    = errors.New("invalid digest format")
	ErrNameContainsUppercase  = errors.New("repository name must be lowercase")
	ErrNameEmpty              = errors.New("repository name must have at least one component")
	ErrNameTooLong            = errors.New("repository name must not be more than 255 characters")
)

// Reference is any parsed reference.
type Reference interface {
	String() string
}

// Named is a reference with a repository name.
type Named interface {
	Reference
	Name() string
}

// Tagged is a reference with a tag.
type Tagged interface {
	Reference
	Tag() string
}

// NamedTagged is a named reference with a tag.
type NamedTagged interface {
	Named
	Tag() string
}

// Digested is a reference with a digest.
type Digested interface {
	Reference
	Digest() digest.Digest
}

// Canonical is a named reference with a digest.
type Canonical interface {
	Named
	Digest() digest.Digest
}

// Parse parses s as written, without normalization: "busybox" stays
// "busybox", and "foo/bar" has domain "foo".
func Parse(s string) (Reference, error) {
	p, ok := split(s)
	if !ok {
		return nil, parseError(s)
	}
	if len(p.path) > NameTotalLengthMax {
		return nil, ErrNameTooLong
	}
	r := repo{domain: p.domain, path: p.path}
	var dgst digest.Digest
	if p.digest != "" {
		var err error
		if dgst, err = digest.Parse(p.digest); err != nil {
			return nil, err
		}
	}
	return build(r, p.tag, dgst), nil
}

// parseError says why s does not match the grammar.
func parseError(s string) error {
	switch {
	case s == "":
		return ErrNameEmpty
	case matchesLowered(s):
		return ErrNameContainsUppercase
	}
	return ErrReferenceInvalidFormat
}

// build returns the narrowest type for a name with an optional tag and
// digest, so that type assertions (Tagged, Canonical) tell what is present.
func build(r repo, tag string, dgst digest.Digest) Named {
	switch {
	case tag != "" && dgst != "":
		return taggedCanonical{repo: r, tag: tag, digest: dgst}
	case tag != "":
		return tagged{repo: r, tag: tag}
	case dgst != "":
		return canonical{repo: r, digest: dgst}
	}
	return r
}

// withName parses a bare name (no tag or digest), without normalization.
func withName(name string) (Named, error) {
	domain, p, ok := splitName(name)
	if !ok {
		return nil, ErrReferenceInvalidFormat
	}
	if len(p) > NameTotalLengthMax {
		return nil, ErrNameTooLong
	}
	return repo{domain: domain, path: p}, nil
}

// WithTag returns name with tag set, keeping its digest if it has one.
func WithTag(name Named, tag string) (NamedTagged, error) {
	if !validTag(tag) {
		return nil, ErrTagInvalidFormat
	}
	var dgst digest.Digest
	if c, ok := name.(Canonical); ok {
		dgst = c.Digest()
	}
	return build(repoOf(name), tag, dgst).(NamedTagged), nil
}

// WithDigest returns name with dgst set, keeping its tag if it has one.
func WithDigest(name Named, dgst digest.Digest) (Canonical, error) {
	if !validDigestSyntax(dgst.String()) {
		return nil, ErrDigestInvalidFormat
	}
	var tag string
	if t, ok := name.(Tagged); ok {
		tag = t.Tag()
	}
	return build(repoOf(name), tag, dgst).(Canonical), nil
}

// TrimNamed drops the tag and digest of ref.
func TrimNamed(ref Named) Named {
	if r, ok := ref.(hasRepo); ok {
		return r.repository()
	}
	domain, p := splitForeign(ref.Name())
	return repo{domain: domain, path: p}
}

// Domain returns the domain of named ("" if it has none).
func Domain(named Named) string {
	if r, ok := named.(hasRepo); ok {
		return r.repository().domain
	}
	domain, _ := splitForeign(named.Name())
	return domain
}

// Path returns the repository path of named, without its domain.
func Path(named Named) string {
	if r, ok := named.(hasRepo); ok {
		return r.repository().path
	}
	_, p := splitForeign(named.Name())
	return p
}

// IsNameOnly reports whether ref has neither a tag nor a digest.
func IsNameOnly(ref Named) bool {
	if _, ok := ref.(NamedTagged); ok {
		return false
	}
	_, ok := ref.(Canonical)
	return !ok
}

// FamiliarName is ref's name as Docker shows it: without "docker.io/" and,
// for official images, without "library/".
func FamiliarName(ref Named) string {
	if r, ok := ref.(hasRepo); ok {
		return r.repository().familiar().Name()
	}
	return ref.Name()
}

// FamiliarString is ref's full string as Docker shows it, with the name in
// its familiar form.
func FamiliarString(ref Reference) string {
	if r, ok := ref.(familiarizer); ok {
		return r.familiarize().String()
	}
	return ref.String()
}

// FamiliarMatch reports whether pattern (path.Match syntax) matches ref's
// familiar string or, failing that, its familiar name.
func FamiliarMatch(pattern string, ref Reference) (bool, error) {
	matched, err := path.Match(pattern, FamiliarString(ref))
	if named, ok := ref.(Named); ok && !matched {
		matched, _ = path.Match(pattern, FamiliarName(named))
	}
	return matched, err
}

// repoOf returns the domain and path of any Named, ours or not.
func repoOf(name Named) repo {
	if r, ok := name.(hasRepo); ok {
		return r.repository()
	}
	return repo{path: name.Name()}
}

// splitForeign splits the name of a Named this package did not make.
func splitForeign(name string) (domain, p string) {
	if domain, p, ok := splitName(name); ok {
		return domain, p
	}
	return "", name
}
