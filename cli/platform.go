package cli

import (
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// parsePlatform reads "os[/arch[/variant]]" (linux, linux/amd64,
// linux/arm64/v8); a lone known architecture means linux/<arch>.
func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) > 3 || slicesHasEmpty(parts) {
		return ocispec.Platform{}, fmt.Errorf("%q: invalid platform: expected os[/arch[/variant]]", s)
	}
	if len(parts) == 1 && knownArch(parts[0]) {
		return ocispec.Platform{OS: "linux", Architecture: parts[0]}, nil
	}
	p := ocispec.Platform{OS: parts[0]}
	if len(parts) > 1 {
		p.Architecture = parts[1]
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	return p, nil
}

func slicesHasEmpty(parts []string) bool {
	for _, p := range parts {
		if p == "" {
			return true
		}
	}
	return false
}

func knownArch(s string) bool {
	switch s {
	case "amd64", "386", "arm", "arm64", "ppc64le", "s390x", "riscv64", "mips64le", "loong64":
		return true
	}
	return false
}
