package daemon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/storage"
	"github.com/moby/moby/api/types/system"
	"github.com/opencontainers/go-digest"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	cimage "github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/internal/reference"
)

// ImagesOptions configure Images.
type ImagesOptions struct {
	// Root is the engine's state directory; "" means /var/lib/corral.
	Root string
	// Insecure lists registries reached over plain http or unverified
	// TLS besides loopback ones (registry.Options.Insecure).
	Insecure []string
	// Events, if not nil, gets the image events (pull, push, tag, untag,
	// delete, load, import, save, prune) as dockerd writes them.
	Events *Events
}

// Images is the engine's image service over the image store.
type Images struct {
	store  *cimage.Store
	reg    *registries
	events *Events
	// users, when set, answers the containers made from an image (by
	// image ID): running ones first, as "id running" or "id stopped".
	users func(imageID string) []imageUser
}

// imageUser is a container made from an image.
type imageUser struct {
	id      string
	running bool
}

// NewImages opens the image store under opts.Root.
func NewImages(ctx context.Context, opts ImagesOptions) (*Images, error) {
	reg := newRegistries(opts.Insecure)
	store, err := cimage.Open(ctx, opts.Root, reg)
	if err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	return &Images{store: store, reg: reg, events: opts.Events}, nil
}

// Close releases the store.
func (i *Images) Close() error { return i.store.Close() }

// noSuchImage is dockerd's answer for a name or ID that names no image:
// "No such image: busybox:latest".
func noSuchImage(ref string) error {
	shown := ref
	if named, err := reference.ParseNormalizedNamed(ref); err == nil && !looksLikeID(ref) {
		shown = reference.FamiliarString(reference.TagNameOnly(named))
	}
	//lint:ignore ST1005 dockerd's wording, which clients match.
	return errdefs.NotFound(fmt.Errorf("No such image: %s", shown))
}

// looksLikeID reports whether s is an image ID or a prefix of one.
func looksLikeID(s string) bool {
	hex := s
	if len(s) > 7 && s[:7] == "sha256:" {
		return true
	}
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return len(hex) == 64
}

// get finds the image ref names, with dockerd's message when there is none.
func (i *Images) get(ctx context.Context, ref string) (cimage.Image, error) {
	img, err := i.store.Get(ctx, ref)
	if errdefs.IsNotFound(err) {
		return img, noSuchImage(ref)
	}
	return img, err
}

// ImageInspect is GET /images/{name}/json.
func (i *Images) ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error) {
	if _, err := i.get(ctx, ref); err != nil {
		return image.InspectResponse{}, err
	}
	r, err := i.store.Inspect(ctx, ref)
	if err != nil {
		return image.InspectResponse{}, err
	}
	out := image.InspectResponse{
		ID: r.ID, RepoTags: r.RepoTags, RepoDigests: r.RepoDigests, Comment: r.Comment, Created: r.Created,
		Author: r.Author, Config: dockerConfig(r.Config), Architecture: r.Architecture, Variant: r.Variant,
		Os: r.Os, OsVersion: r.OsVersion, Size: r.Size,
		GraphDriver: &storage.DriverData{Name: r.GraphDriver.Name, Data: r.GraphDriver.Data},
		RootFS:      image.RootFS{Type: r.RootFS.Type, Layers: r.RootFS.Layers},
		Metadata:    image.Metadata{LastTagTime: r.Metadata.LastTagTime},
		Descriptor:  r.Descriptor,
	}
	if out.GraphDriver.Data == nil {
		out.GraphDriver.Data = map[string]string{}
	}
	return out, nil
}

// ImageHistory is GET /images/{name}/history.
func (i *Images) ImageHistory(ctx context.Context, ref string) ([]image.HistoryResponseItem, error) {
	if _, err := i.get(ctx, ref); err != nil {
		return nil, err
	}
	items, err := i.store.History(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := make([]image.HistoryResponseItem, len(items))
	for n, h := range items {
		out[n] = image.HistoryResponseItem{ID: h.ID, Created: h.Created, CreatedBy: h.CreatedBy,
			Tags: h.Tags, Size: h.Size, Comment: h.Comment}
	}
	return out, nil
}

// ImageTag is POST /images/{name}/tag.
func (i *Images) ImageTag(ctx context.Context, source, target string) error {
	named, err := reference.ParseNormalizedNamed(target)
	if err != nil {
		return errdefs.InvalidArgument(err)
	}
	img, err := i.get(ctx, source)
	if err != nil {
		return err
	}
	if err := i.store.Tag(ctx, source, target); err != nil {
		return err
	}
	i.events.image(events.ActionTag, img.ID.String(), reference.FamiliarString(reference.TagNameOnly(named)))
	return nil
}

// ImageRemove is DELETE /images/{name}. Images have no parents to prune
// here, so PruneChildren changes nothing.
func (i *Images) ImageRemove(ctx context.Context, ref string, opts api.ImageRemoveOptions) ([]image.DeleteResponse, error) {
	img, err := i.get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if i.users != nil {
		if users := i.users(img.ID.String()); len(users) > 0 {
			return i.removeInUse(ctx, ref, img.ID.String(), users, opts.Force)
		}
	}
	items, err := i.store.Remove(ctx, ref, opts.Force)
	out := make([]image.DeleteResponse, len(items))
	for n, it := range items {
		out[n] = image.DeleteResponse{Untagged: it.Untagged, Deleted: it.Deleted}
	}
	i.removed(img.ID.String(), out)
	return out, err
}

// removeInUse is rmi of an image that containers were made from: dockerd
// refuses to delete it (a running container's even with force); it only
// removes a name when others remain, or with force.
func (i *Images) removeInUse(ctx context.Context, ref, id string, users []imageUser, force bool) ([]image.DeleteResponse, error) {
	r, err := i.store.Inspect(ctx, id)
	if err != nil {
		return nil, err
	}
	byID := looksLikeID(ref) || strings.HasPrefix(id, "sha256:"+ref)
	short := cimage.ShortID(digest.Digest(id))
	if !byID && (len(r.RepoTags) > 1 || force) || byID && force && !users[0].running {
		names := []string{ref}
		if byID {
			names = append(r.RepoTags, r.RepoDigests...)
		}
		return i.untag(ctx, id, names)
	}
	switch {
	case !byID:
		return nil, errdefs.Conflict(fmt.Errorf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, users[0].id[:12], short))
	case users[0].running:
		return nil, errdefs.Conflict(fmt.Errorf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", short, users[0].id[:12]))
	}
	return nil, errdefs.Conflict(fmt.Errorf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", short, users[0].id[:12]))
}

// untag removes names of an image that stays.
func (i *Images) untag(ctx context.Context, id string, names []string) ([]image.DeleteResponse, error) {
	var out []image.DeleteResponse
	for _, n := range names {
		if _, err := i.store.Untag(ctx, n); err != nil {
			return out, err
		}
		shown := n
		if named, err := reference.ParseNormalizedNamed(n); err == nil {
			shown = reference.FamiliarString(reference.TagNameOnly(named))
		}
		out = append(out, image.DeleteResponse{Untagged: shown})
	}
	i.removed(id, out)
	return out, nil
}

// removed publishes the untag and delete events of a removal.
func (i *Images) removed(id string, items []image.DeleteResponse) {
	for _, it := range items {
		switch {
		case it.Untagged != "":
			i.events.image(events.ActionUnTag, id, it.Untagged)
		case it.Deleted == id: // not the layers that went with it
			i.events.image(events.ActionDelete, id, id)
		}
	}
}

// ImagesPrune is POST /images/prune: filters dangling, until, label and
// label!.
func (i *Images) ImagesPrune(ctx context.Context, filters api.Filters) (image.PruneReport, error) {
	opts, err := pruneOptions(filters, time.Now())
	if i.users != nil {
		opts.InUse = func(id string) bool { return len(i.users(id)) > 0 }
	}
	if err != nil {
		return image.PruneReport{}, err
	}
	before, err := i.store.Images(ctx)
	if err != nil {
		return image.PruneReport{}, err
	}
	rep, err := i.store.Prune(ctx, opts)
	out := image.PruneReport{SpaceReclaimed: rep.SpaceReclaimed}
	for _, it := range rep.ImagesDeleted {
		out.ImagesDeleted = append(out.ImagesDeleted, image.DeleteResponse{Untagged: it.Untagged, Deleted: it.Deleted})
	}
	i.pruned(before, out)
	return out, err
}

// pruned publishes the delete events of the images a prune removed (of
// images, not layers) and the prune event.
func (i *Images) pruned(before []cimage.Summary, rep image.PruneReport) {
	if i.events == nil {
		return
	}
	gone := map[string]bool{}
	for _, it := range rep.ImagesDeleted {
		gone[it.Deleted] = true
	}
	for _, s := range before {
		if gone[s.ID] {
			i.events.image(events.ActionDelete, s.ID, s.ID)
		}
	}
	i.events.Publish(events.Message{Type: events.ImageEventType, Action: events.ActionPrune,
		Actor: events.Actor{Attributes: map[string]string{"reclaimed": strconv.FormatUint(rep.SpaceReclaimed, 10)}}})
}

// DiskUsage is GET /system/df for images: each layer and blob counted once.
func (i *Images) DiskUsage(ctx context.Context) (system.DiskUsage, error) {
	du, err := i.store.DiskUsage(ctx)
	if err != nil {
		return system.DiskUsage{}, err
	}
	items := make([]image.Summary, len(du.Images))
	for n, s := range du.Images {
		items[n] = summary(s)
		items[n].Containers = 0
	}
	return system.DiskUsage{ImageUsage: &image.DiskUsage{
		TotalCount: int64(len(items)), TotalSize: du.TotalSize, Reclaimable: du.TotalSize, Items: items,
	}}, nil
}

// summary converts the store's summary to the API's.
func summary(s cimage.Summary) image.Summary {
	out := image.Summary{ID: s.ID, ParentID: s.ParentID, RepoTags: s.RepoTags, RepoDigests: s.RepoDigests,
		Created: s.Created, Size: s.Size, SharedSize: s.SharedSize, Labels: s.Labels, Containers: s.Containers}
	if out.RepoTags == nil {
		out.RepoTags = []string{}
	}
	if out.RepoDigests == nil {
		out.RepoDigests = []string{}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if s.Target.Digest != "" {
		d := s.Target
		out.Descriptor = &d
	}
	return out
}

// errNotSupported marks what corral does not do yet.
func errNotSupported(what string) error {
	return errdefs.Wrap(errdefs.ErrNotImplemented, errors.New(what+" is not supported"))
}
