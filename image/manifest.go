package image

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/errdefs"
)

// Docker's media types (image manifest v2, schema 2); the OCI ones are in
// ocispec.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"
	MediaTypeDockerLayerZstd    = "application/vnd.docker.image.rootfs.diff.tar.zstd"
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	mediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeDockerSchema1Sig   = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	// mediaTypeNonDistributable is deprecated in the OCI spec but still found.
	mediaTypeNonDistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar"
)

// maxManifestSize bounds the manifests, indexes and configs read into memory.
const maxManifestSize = 8 << 20

func isIndexType(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

func isManifestType(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

func isConfigType(mt string) bool {
	return mt == ocispec.MediaTypeImageConfig || mt == MediaTypeDockerConfig
}

// isLayerType reports whether mt is a layer this store can unpack.
func isLayerType(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd,
		mediaTypeNonDistributable, mediaTypeNonDistributable + "+gzip", mediaTypeNonDistributable + "+zstd",
		MediaTypeDockerLayerGzip, MediaTypeDockerLayer, MediaTypeDockerLayerZstd, MediaTypeDockerForeignLayer:
		return true
	}
	return false
}

// sniffed is the shape of any manifest-like JSON document, enough to tell
// what it is when its media type is missing.
type sniffed struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Config        json.RawMessage `json:"config"`
	Manifests     json.RawMessage `json:"manifests"`
	FSLayers      json.RawMessage `json:"fsLayers"`
}

// detectMediaType returns the media type of a manifest or index document:
// the one it declares, else what its fields say. Schema 1 manifests and
// unknown documents are errdefs.ErrNotImplemented / ErrInvalidArgument.
func detectMediaType(data []byte, declared string) (string, error) {
	var s sniffed
	if err := json.Unmarshal(data, &s); err != nil {
		return "", errdefs.InvalidArgument(fmt.Errorf("decode manifest: %w", err))
	}
	mt := s.MediaType
	if mt == "" {
		mt = declared
	}
	switch {
	case mt == mediaTypeDockerSchema1 || mt == mediaTypeDockerSchema1Sig || s.SchemaVersion == 1 || s.FSLayers != nil:
		return "", errdefs.Wrap(errdefs.ErrNotImplemented,
			fmt.Errorf("docker image manifest schema 1 is not supported (deprecated); push the image again with a current client"))
	case isIndexType(mt) || isManifestType(mt):
		return mt, nil
	case mt == "" && s.Manifests != nil:
		return ocispec.MediaTypeImageIndex, nil
	case mt == "" && s.Config != nil:
		return ocispec.MediaTypeImageManifest, nil
	}
	return "", errdefs.InvalidArgument(fmt.Errorf("unknown manifest media type %q", mt))
}

// parseManifest decodes and checks an image manifest: schema version 2, a
// config of a known type and layers of known types.
func parseManifest(data []byte) (ocispec.Manifest, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return m, errdefs.InvalidArgument(fmt.Errorf("decode manifest: %w", err))
	}
	if m.SchemaVersion != 2 {
		return m, errdefs.InvalidArgument(fmt.Errorf("manifest schema version %d is not supported", m.SchemaVersion))
	}
	if !isConfigType(m.Config.MediaType) {
		return m, errdefs.InvalidArgument(fmt.Errorf("unknown config media type %q (not a container image)", m.Config.MediaType))
	}
	if err := m.Config.Digest.Validate(); err != nil {
		return m, errdefs.InvalidArgument(fmt.Errorf("config digest: %w", err))
	}
	for _, l := range m.Layers {
		if !isLayerType(l.MediaType) {
			return m, errdefs.InvalidArgument(fmt.Errorf("unknown layer media type %q", l.MediaType))
		}
		if err := l.Digest.Validate(); err != nil {
			return m, errdefs.InvalidArgument(fmt.Errorf("layer digest: %w", err))
		}
	}
	return m, nil
}

// parseIndex decodes an OCI index or a Docker manifest list.
func parseIndex(data []byte) (ocispec.Index, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return idx, errdefs.InvalidArgument(fmt.Errorf("decode index: %w", err))
	}
	if idx.SchemaVersion != 2 {
		return idx, errdefs.InvalidArgument(fmt.Errorf("index schema version %d is not supported", idx.SchemaVersion))
	}
	for _, d := range idx.Manifests {
		if err := d.Digest.Validate(); err != nil {
			return idx, errdefs.InvalidArgument(fmt.Errorf("index entry digest: %w", err))
		}
	}
	return idx, nil
}

// Config is an image configuration (OCI image config, which Docker's is a
// superset of), with the legacy Docker fields that `docker image inspect`
// shows.
type Config struct {
	Created      *time.Time        `json:"created,omitempty"`
	Author       string            `json:"author,omitempty"`
	Architecture string            `json:"architecture"`
	Variant      string            `json:"variant,omitempty"`
	OS           string            `json:"os"`
	OSVersion    string            `json:"os.version,omitempty"`
	OSFeatures   []string          `json:"os.features,omitempty"`
	Config       ContainerConfig   `json:"config"`
	RootFS       ocispec.RootFS    `json:"rootfs"`
	History      []ocispec.History `json:"history,omitempty"`

	Comment         string           `json:"comment,omitempty"`
	DockerVersion   string           `json:"docker_version,omitempty"`
	Container       string           `json:"container,omitempty"`
	ContainerConfig *ContainerConfig `json:"container_config,omitempty"`
	Parent          string           `json:"parent,omitempty"`
}

// Clone copies c with its slices and maps, so that changing the copy
// leaves c as it is.
func (c ContainerConfig) Clone() ContainerConfig {
	c.Env, c.Entrypoint, c.Cmd = slices.Clone(c.Env), slices.Clone(c.Entrypoint), slices.Clone(c.Cmd)
	c.OnBuild, c.Shell = slices.Clone(c.OnBuild), slices.Clone(c.Shell)
	c.ExposedPorts, c.Volumes, c.Labels = maps.Clone(c.ExposedPorts), maps.Clone(c.Volumes), maps.Clone(c.Labels)
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = slices.Clone(h.Test)
		c.Healthcheck = &h
	}
	return c
}

// ContainerConfig is the part of an image config that containers inherit,
// with Docker's field names (the OCI ones are the same).
type ContainerConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint"`
	Cmd          []string            `json:"Cmd"`
	Healthcheck  *HealthConfig       `json:"Healthcheck,omitempty"`
	ArgsEscaped  bool                `json:"ArgsEscaped,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir"`
	OnBuild      []string            `json:"OnBuild"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	StopTimeout  *int                `json:"StopTimeout,omitempty"`
	Shell        []string            `json:"Shell,omitempty"`
}

// HealthConfig is Docker's HEALTHCHECK in an image config; durations are in
// nanoseconds as Docker writes them.
type HealthConfig struct {
	Test          []string      `json:"Test,omitempty"`
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// parseConfig decodes an image config and checks its root filesystem.
func parseConfig(data []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return c, errdefs.InvalidArgument(fmt.Errorf("decode image config: %w", err))
	}
	if c.RootFS.Type != "layers" {
		return c, errdefs.InvalidArgument(fmt.Errorf("image config: rootfs type %q is not \"layers\"", c.RootFS.Type))
	}
	for _, d := range c.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return c, errdefs.InvalidArgument(fmt.Errorf("image config: diff id: %w", err))
		}
	}
	return c, nil
}

// ChainIDs returns the chain ID of every layer prefix: chain[0] = diff[0],
// chain[i] = sha256(chain[i-1] + " " + diff[i]) (OCI image spec, "Layer
// ChainID"). Layer i's snapshot is keyed by chain[i].
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	chain := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			chain[i] = d
			continue
		}
		chain[i] = digest.FromString(chain[i-1].String() + " " + d.String())
	}
	return chain
}
