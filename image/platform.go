package image

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/errdefs"
)

// DefaultPlatform is the platform images are pulled for when none is asked
// for: this host's (linux/amd64 here).
func DefaultPlatform() ocispec.Platform {
	return NormalizePlatform(ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH})
}

// ParsePlatform parses "os[/arch[/variant]]" (as --platform takes it); a
// missing arch is this host's.
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if s == "" || len(parts) > 3 {
		return ocispec.Platform{}, errdefs.InvalidArgument(fmt.Errorf("parse platform %q: want os[/arch[/variant]]", s))
	}
	p := ocispec.Platform{OS: strings.ToLower(parts[0]), Architecture: runtime.GOARCH}
	if len(parts) > 1 {
		p.Architecture = strings.ToLower(parts[1])
	}
	if len(parts) > 2 {
		p.Variant = strings.ToLower(parts[2])
	}
	for _, f := range parts {
		if f == "" {
			return ocispec.Platform{}, errdefs.InvalidArgument(fmt.Errorf("parse platform %q: empty field", s))
		}
	}
	return NormalizePlatform(p), nil
}

// PlatformString formats a platform as "os/arch[/variant]".
func PlatformString(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// NormalizePlatform maps architecture aliases to Go's names and drops the
// default variant: x86_64 → amd64, aarch64 → arm64, arm64/v8 → arm64,
// amd64/v1 → amd64, armhf → arm/v7, armel → arm/v6, arm → arm/v7.
func NormalizePlatform(p ocispec.Platform) ocispec.Platform {
	p.OS = strings.ToLower(p.OS)
	arch, variant := strings.ToLower(p.Architecture), strings.ToLower(p.Variant)
	switch arch {
	case "x86_64", "x86-64", "amd64":
		arch = "amd64"
		if variant == "v1" {
			variant = ""
		}
	case "i386", "i686", "386":
		arch, variant = "386", ""
	case "aarch64", "arm64":
		arch = "arm64"
		if variant == "v8" || variant == "8" {
			variant = ""
		}
	case "armhf":
		arch, variant = "arm", "v7"
	case "armel":
		arch, variant = "arm", "v6"
	case "arm":
		if variant == "" {
			variant = "v7"
		} else if !strings.HasPrefix(variant, "v") {
			variant = "v" + variant
		}
	}
	p.Architecture, p.Variant = arch, variant
	return p
}

// platformRank says how well have serves want: 0 is an exact match, higher
// is a compatible but older variant; ok is false when have cannot run.
func platformRank(want, have ocispec.Platform) (rank int, ok bool) {
	want, have = NormalizePlatform(want), NormalizePlatform(have)
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return 0, false
	}
	if want.Variant == have.Variant {
		return 0, true
	}
	switch want.Architecture {
	case "amd64", "arm":
		// Variants are levels: a v3 host runs v2, v1 (""), an arm v7 host
		// runs v6 and v5.
		w, h := variantLevel(want.Variant, want.Architecture), variantLevel(have.Variant, have.Architecture)
		if h < 0 || w < 0 || h > w {
			return 0, false
		}
		return w - h, true
	}
	if have.Variant == "" {
		return 1, true
	}
	return 0, false
}

// variantLevel is the number of an amd64 (v1..v4, "" = 1) or arm (v5..v8)
// variant, -1 if unknown.
func variantLevel(variant, arch string) int {
	if variant == "" && arch == "amd64" {
		return 1
	}
	n, err := strconv.Atoi(strings.TrimPrefix(variant, "v"))
	if err != nil || !strings.HasPrefix(variant, "v") {
		return -1
	}
	return n
}

// selectManifest picks the entry of an index for platform want: the best
// ranked platform match; entries without a platform only when nothing else
// matches and they are the sole manifest. Attestations and other
// non-image entries are skipped.
func selectManifest(idx ocispec.Index, want ocispec.Platform) (ocispec.Descriptor, error) {
	best, bestRank := -1, 0
	var unplatformed []int
	for i, d := range idx.Manifests {
		if !isManifestType(d.MediaType) && !isIndexType(d.MediaType) {
			continue
		}
		if d.Platform == nil {
			unplatformed = append(unplatformed, i)
			continue
		}
		if r, ok := platformRank(want, *d.Platform); ok && (best < 0 || r < bestRank) {
			best, bestRank = i, r
		}
	}
	if best >= 0 {
		return idx.Manifests[best], nil
	}
	if len(unplatformed) == 1 {
		return idx.Manifests[unplatformed[0]], nil
	}
	return ocispec.Descriptor{}, errdefs.NotFound(fmt.Errorf("no matching manifest for %s in the manifest list entries", PlatformString(want)))
}
