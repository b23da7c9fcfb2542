// Package image is corral's image store: the image model (OCI and Docker
// schema2 manifests, manifest lists and indexes, configs), references
// normalised as Docker does them, platform selection, the metadata store of
// image records (<root>/image/images.db), and the verbs that move images in
// and out of it: Pull and Push through a registry, Save and Load of
// docker-archive and OCI archives, Import of a root filesystem tarball.
//
// Blobs live in a content.Store and every layer is unpacked once into a
// snapshot of a snapshot.Snapshotter keyed by its chain ID, so layers are
// shared by every image that has them. Garbage collection marks from the
// image records and from leases (kept while a pull, load or import runs) and
// sweeps the content and snapshots nothing reaches.
//
// A pull unpacks each layer as it downloads (stream.go): the download tees
// the blob into the unpacker, which commits the layer only once the blob is
// verified and stored. Layers whose parent is not committed yet are
// unpacked into scratch snapshots and moved into place in order (stage.go).
//
// Locking: a store-wide flock (<root>/image/lock) is held shared by the verbs
// that add content (pull, load, import, tag, remove) and exclusively by the
// garbage collector; images.db is opened per transaction, so several corral
// processes can use one store. Lock order: the store flock, then images.db.
package image
