package reference

import "github.com/opencontainers/go-digest"

// The concrete references. Each kind is its own type so that a type
// assertion (Tagged, Canonical, Digested) tells which parts are present,
// as callers of the upstream package rely on.

// hasRepo is implemented by every named reference of this package.
type hasRepo interface {
	repository() repo
}

// familiarizer is implemented by references with a familiar form.
type familiarizer interface {
	familiarize() Reference
}

// repo is a bare name: an optional domain and a path.
type repo struct {
	domain, path string
}

func (r repo) Name() string {
	if r.domain == "" {
		return r.path
	}
	return r.domain + "/" + r.path
}

func (r repo) String() string         { return r.Name() }
func (r repo) repository() repo       { return r }
func (r repo) familiarize() Reference { return r.familiar() }

// tagged is a name with a tag.
type tagged struct {
	repo
	tag string
}

func (t tagged) Tag() string            { return t.tag }
func (t tagged) String() string         { return t.Name() + ":" + t.tag }
func (t tagged) familiarize() Reference { return tagged{repo: t.familiar(), tag: t.tag} }

// canonical is a name with a digest.
type canonical struct {
	repo
	digest digest.Digest
}

func (c canonical) Digest() digest.Digest { return c.digest }
func (c canonical) String() string        { return c.Name() + "@" + c.digest.String() }
func (c canonical) familiarize() Reference {
	return canonical{repo: c.familiar(), digest: c.digest}
}

// taggedCanonical is a name with both a tag and a digest.
type taggedCanonical struct {
	repo
	tag    string
	digest digest.Digest
}

func (r taggedCanonical) Tag() string           { return r.tag }
func (r taggedCanonical) Digest() digest.Digest { return r.digest }
func (r taggedCanonical) String() string {
	return r.Name() + ":" + r.tag + "@" + r.digest.String()
}
func (r taggedCanonical) familiarize() Reference {
	return taggedCanonical{repo: r.familiar(), tag: r.tag, digest: r.digest}
}

// digestOnly is a bare digest (ParseAnyReference of an ID or digest).
type digestOnly digest.Digest

func (d digestOnly) String() string        { return string(d) }
func (d digestOnly) Digest() digest.Digest { return digest.Digest(d) }
