package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/jsonstream"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	cimage "github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/internal/reference"
	cregistry "github.com/corral-dev/corral/registry"
)

// ImagePull is POST /images/create?fromImage=: it pulls ref with the
// credentials of opts.RegistryAuth and answers dockerd's progress stream,
// which ends "Status: Downloaded newer image for busybox:latest". An
// unknown image or registry failure before the first layer is the call's
// error.
func (i *Images) ImagePull(ctx context.Context, ref string, opts api.ImagePullOptions) (io.ReadCloser, error) {
	if opts.All {
		return nil, errNotSupported("pulling all tags")
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, errdefs.InvalidArgument(err)
	}
	popts := cimage.PullOptions{}
	if opts.Platform != "" {
		if popts.Platform, err = cimage.ParsePlatform(opts.Platform); err != nil {
			return nil, err
		}
	}
	if ctx, err = authContext(ctx, opts.RegistryAuth); err != nil {
		return nil, err
	}
	named = reference.TagNameOnly(named)
	rc, err := jsonStream(ctx, lazy, true, func(ctx context.Context, jw *jsonWriter) error {
		popts.Progress = func(p cimage.Progress) { jw.write(progressMessage(p)) }
		if _, err := i.store.Pull(ctx, named.String(), popts); err != nil {
			return err
		}
		i.events.image(events.ActionPull, reference.FamiliarString(named), reference.FamiliarName(named))
		return nil
	})
	return rc, manifestNotFound(named, err)
}

// manifestNotFound gives a registry's 404 for the manifest dockerd's words:
// "manifest for busybox:nope not found: manifest unknown".
func manifestNotFound(named reference.Named, err error) error {
	var re *cregistry.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound && strings.Contains(re.Path, "/manifests/") {
		why := "manifest unknown"
		if len(re.Errors) > 0 {
			why = re.Errors[0].String()
		}
		return errdefs.NotFound(fmt.Errorf("manifest for %s not found: %s", reference.FamiliarString(named), why))
	}
	return err
}

func authContext(ctx context.Context, header string) (context.Context, error) {
	auth, err := decodeAuth(header)
	if err != nil {
		return ctx, err
	}
	return withAuth(ctx, auth), nil
}

// jsonStream runs op with a JSON message writer over startStream.
func jsonStream(ctx context.Context, mode streamMode, holdFirst bool, op func(context.Context, *jsonWriter) error) (io.ReadCloser, error) {
	var jw *jsonWriter
	return startStream(ctx, mode, func(ctx context.Context, w io.Writer) error {
		jw = newJSONWriter(w)
		jw.holdFirst = holdFirst
		return op(ctx, jw)
	}, func(_ io.Writer, err error) { jw.writeError(err) })
}

// pushAux is the last message of a push: what the registry now holds.
type pushAux struct {
	Tag    string
	Digest string
	Size   int
}

// ImagePush is POST /images/{name}/push: ref with a tag.
func (i *Images) ImagePush(ctx context.Context, ref string, opts api.ImagePushOptions) (io.ReadCloser, error) {
	if opts.All {
		return nil, errNotSupported("pushing all tags")
	}
	if opts.Platform != nil {
		return nil, errNotSupported("pushing one platform of an image (--platform)")
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, errdefs.InvalidArgument(err)
	}
	named = reference.TagNameOnly(named)
	if _, err := i.store.Get(ctx, named.String()); errdefs.IsNotFound(err) {
		//lint:ignore ST1005 dockerd's wording.
		return nil, errdefs.NotFound(fmt.Errorf("An image does not exist locally with the tag: %s", reference.FamiliarName(named)))
	}
	if ctx, err = authContext(ctx, opts.RegistryAuth); err != nil {
		return nil, err
	}
	return jsonStream(ctx, lazy, false, func(ctx context.Context, jw *jsonWriter) error {
		progress := func(p cimage.Progress) {
			jw.write(progressMessage(p))
			var aux pushAux
			if n, _ := fmt.Sscanf(p.Action, "%s digest: %s size: %d", &aux.Tag, &aux.Digest, &aux.Size); n == 3 && p.ID == "" {
				aux.Tag = aux.Tag[:len(aux.Tag)-1] // "latest:"
				raw, _ := json.Marshal(aux)
				msg := json.RawMessage(raw)
				jw.write(message{Message: jsonstream.Message{Progress: &jsonstream.Progress{}, Aux: &msg}})
			}
		}
		if _, err := i.store.Push(ctx, named.String(), cimage.PushOptions{Progress: progress}); err != nil {
			return err
		}
		i.events.image(events.ActionPush, reference.FamiliarString(named), reference.FamiliarName(named))
		return nil
	})
}

// ImageLoad is POST /images/load: a docker-archive or OCI archive. The
// answer lists "Loaded image: <name>" (or "Loaded image ID: <id>") per
// image; without quiet, progress bars of the layers come first.
func (i *Images) ImageLoad(ctx context.Context, input io.Reader, opts api.ImageLoadOptions) (io.ReadCloser, error) {
	return jsonStream(ctx, eager, false, func(ctx context.Context, jw *jsonWriter) error {
		lopts := cimage.LoadOptions{}
		if !opts.Quiet {
			lopts.Progress = func(p cimage.Progress) { jw.write(progressMessage(p)) }
		}
		loaded, err := i.store.Load(ctx, input, lopts)
		if err != nil {
			return err
		}
		for _, l := range loaded {
			i.events.image(events.ActionLoad, l.ID.String(), l.ID.String())
			line := "Loaded image ID: " + l.ID.String() + "\n"
			if l.Name != "" {
				line = "Loaded image: " + l.Name + "\n"
			}
			jw.write(message{Message: jsonstream.Message{Stream: line}})
		}
		return nil
	})
}

// ImageSave is GET /images/get: a docker-archive of the images.
func (i *Images) ImageSave(ctx context.Context, refs []string) (io.ReadCloser, error) {
	var ids []string
	for _, ref := range refs {
		img, err := i.get(ctx, ref)
		if err != nil {
			return nil, err
		}
		ids = append(ids, img.ID.String())
	}
	return startStream(ctx, lazy, func(ctx context.Context, w io.Writer) error {
		if err := i.store.Save(ctx, refs, w, cimage.SaveOptions{}); err != nil {
			return err
		}
		for _, id := range ids {
			i.events.image(events.ActionSave, id, id)
		}
		return nil
	}, nil)
}

// ImageImport is POST /images/create?fromSrc=-: an image of a root
// filesystem tarball, named ref if not "". The answer is the image ID.
func (i *Images) ImageImport(ctx context.Context, source io.Reader, ref string, opts api.ImageImportOptions) (io.ReadCloser, error) {
	iopts := cimage.ImportOptions{Ref: ref, Changes: opts.Changes, Message: opts.Message, Source: "-"}
	if ref != "" {
		named, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			return nil, errdefs.InvalidArgument(err)
		}
		if _, ok := named.(reference.Digested); ok {
			return nil, errdefs.InvalidArgument(fmt.Errorf("cannot import digest reference"))
		}
	}
	if opts.Platform != "" {
		p, err := cimage.ParsePlatform(opts.Platform)
		if err != nil {
			return nil, err
		}
		iopts.Platform = ocispec.Platform(p)
	}
	return jsonStream(ctx, lazy, false, func(ctx context.Context, jw *jsonWriter) error {
		img, err := i.store.Import(ctx, source, iopts)
		if err != nil {
			return err
		}
		i.events.image(events.ActionImport, img.ID.String(), img.ID.String())
		jw.write(message{Message: jsonstream.Message{Status: img.ID.String()}})
		return nil
	})
}
