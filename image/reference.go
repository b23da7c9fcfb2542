package image

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// ParseReference parses an image reference as Docker does: a familiar name
// is normalised ("busybox" → "docker.io/library/busybox:latest"), a name
// without tag or digest gets ":latest", and a reference with both a tag and a
// digest keeps only the digest. Errors are errdefs.ErrInvalidArgument.
func ParseReference(s string) (reference.Named, error) {
	ref, err := reference.ParseDockerRef(s)
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("parse reference %q: %w", s, err))
	}
	return ref, nil
}

// FamiliarString is the short form of a reference that Docker shows:
// "docker.io/library/busybox:latest" → "busybox:latest".
func FamiliarString(ref reference.Named) string {
	return reference.FamiliarString(ref)
}

// FamiliarName is the short repository name of a stored record name
// ("docker.io/library/busybox:latest" → "busybox"), or "<none>" for a
// dangling record.
func FamiliarName(name string) string {
	ref, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "<none>"
	}
	return reference.FamiliarName(ref)
}

// familiar renders a stored record name in its familiar form.
func familiar(name string) string {
	ref, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name
	}
	return reference.FamiliarString(ref)
}

// isTag reports whether the stored name is a tag reference (not a digest
// reference).
func isTag(name string) bool {
	ref, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return false
	}
	_, ok := ref.(reference.Tagged)
	return ok
}

// repoOf returns the repository part of a stored name
// ("docker.io/library/busybox:latest" → "docker.io/library/busybox").
func repoOf(name string) string {
	ref, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return ""
	}
	return ref.Name()
}

// withDigest returns "repo@dgst" for a repository.
func withDigest(repo string, dgst digest.Digest) (string, error) {
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return "", err
	}
	c, err := reference.WithDigest(reference.TrimNamed(named), dgst)
	if err != nil {
		return "", err
	}
	return c.String(), nil
}

// parseID recognises an image ID: "sha256:<64 hex>", "<64 hex>", or a hex
// prefix (with or without "sha256:") of at least one character. full says
// whether it is a whole digest.
func parseID(s string) (prefix string, full bool, ok bool) {
	hex := strings.TrimPrefix(s, "sha256:")
	if hex == "" || len(hex) > 64 {
		return "", false, false
	}
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false, false
		}
	}
	return hex, len(hex) == 64, true
}
