// Package api holds what crosses the Docker Engine API between corral's CLI
// and its daemon that the wire types of github.com/moby/moby/api/types do not
// already name: the API versions corral speaks, its default socket, the
// options of the calls (the query parameters and headers of their requests,
// parsed) and the list filters with their matching. The response bodies are
// moby's types themselves (image.Summary, image.InspectResponse,
// jsonstream.Message, ...), so that the real docker CLI reads what corral
// writes.
package api

import ocispec "github.com/opencontainers/image-spec/specs-go/v1"

// API versions: the one corral advertises and the oldest it accepts in a
// versioned path (/v1.24/...).
const (
	APIVersion    = "1.47"
	MinAPIVersion = "1.24"
)

// DefaultHost is the engine's API socket when nothing else is said.
const DefaultHost = "unix:///run/corral/corral.sock"

// ImagePullOptions are the parameters of POST /images/create?fromImage=.
type ImagePullOptions struct {
	// All pulls every tag of the repository (not supported yet).
	All bool
	// RegistryAuth is the X-Registry-Auth header: base64url of a JSON
	// registry.AuthConfig; "" means anonymous.
	RegistryAuth string
	// Platform is "os[/arch[/variant]]"; "" means the daemon's own.
	Platform string
}

// ImagePushOptions are the parameters of POST /images/{name}/push.
type ImagePushOptions struct {
	All          bool
	RegistryAuth string
	// Platform pushes only that platform's manifest of an index.
	Platform *ocispec.Platform
}

// ImageListOptions are the parameters of GET /images/json.
type ImageListOptions struct {
	// All includes intermediate images.
	All bool
	// Filters: dangling, reference, label, before, since, until.
	Filters Filters
	// SharedSize and ContainerCount ask for those fields to be computed
	// (-1 otherwise).
	SharedSize     bool
	ContainerCount bool
}

// ImageRemoveOptions are the parameters of DELETE /images/{name}.
type ImageRemoveOptions struct {
	Force         bool
	PruneChildren bool
}

// ImageImportOptions are the parameters of POST /images/create?fromSrc=-.
type ImageImportOptions struct {
	// Message is the comment of the image's history entry.
	Message string
	// Changes are Dockerfile instructions applied to the config (CMD,
	// ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL).
	Changes []string
	// Platform is "os[/arch[/variant]]" of the image; "" means the
	// daemon's own.
	Platform string
}

// ImageLoadOptions are the parameters of POST /images/load.
type ImageLoadOptions struct {
	// Quiet leaves progress bars out of the answer's JSON stream.
	Quiet bool
}
