// Package build is corral's Dockerfile builder, the classic builder of the
// Docker API (POST /build, version=1): it parses the Dockerfile with
// BuildKit's parser (parser and instructions), picks the stages the target
// needs, and runs each instruction on top of the image the previous one
// made. RUN executes in a container through the engine (Runner); COPY and
// ADD turn files of the build context or of another stage into a layer
// tar; the other instructions only change the config. Every step's image
// is recorded in a layer cache (Cache) under a key made of its parent, the
// instruction, the variables in effect and the digest of the files it
// reads, so that a rebuild reuses what did not change. The engine parts it
// needs are small interfaces the daemon implements; the builder itself
// knows nothing of containers, snapshots or HTTP.
package build
