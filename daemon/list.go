package daemon

import (
	"context"
	"strings"
	"time"

	"github.com/moby/moby/api/types/image"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	cimage "github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/internal/reference"
)

// listFilter is the parsed filters of GET /images/json.
type listFilter struct {
	dangling    *bool
	references  []string
	labels      []string
	before      int64 // created strictly before (0: no limit)
	since       int64 // created strictly after
	until       time.Time
	beforeGiven bool
	sinceGiven  bool
}

// ImageList is GET /images/json: one summary per image, newest first,
// filtered by dangling, reference (glob on the familiar name or name:tag),
// label (key or key=value), before and since (an image), until (a time).
func (i *Images) ImageList(ctx context.Context, opts api.ImageListOptions) ([]image.Summary, error) {
	sums, err := i.store.Images(ctx)
	if err != nil {
		return nil, err
	}
	lf, err := i.parseListFilter(ctx, opts.Filters, sums)
	if err != nil {
		return nil, err
	}
	out := []image.Summary{}
	parents := map[string]bool{}
	for _, s := range sums {
		parents[s.ParentID] = true
	}
	for _, s := range sums {
		// An untagged parent of another image is a build's intermediate
		// step: only -a lists it, as with docker.
		if !opts.All && len(s.RepoTags) == 0 && parents[s.ID] {
			continue
		}
		if lf.keep(s) {
			out = append(out, summary(s))
		}
	}
	return out, nil
}

func (i *Images) parseListFilter(ctx context.Context, f api.Filters, sums []cimage.Summary) (listFilter, error) {
	var lf listFilter
	if err := f.Validate("dangling", "label", "before", "since", "reference", "until"); err != nil {
		return lf, errdefs.InvalidArgument(err)
	}
	if f.Contains("dangling") {
		d, err := boolFilter(f, "dangling", false)
		if err != nil {
			return lf, err
		}
		lf.dangling = &d
	}
	lf.references = f.Get("reference")
	lf.labels = f.Get("label")
	var err error
	if lf.until, err = untilFilter(f, time.Now()); err != nil {
		return lf, err
	}
	for _, key := range []string{"before", "since"} {
		for _, ref := range f.Get(key) {
			img, err := i.get(ctx, ref)
			if err != nil {
				return lf, err
			}
			created := createdOf(sums, img.ID.String())
			if key == "before" && (!lf.beforeGiven || created < lf.before) {
				lf.before, lf.beforeGiven = created, true
			}
			if key == "since" && (!lf.sinceGiven || created > lf.since) {
				lf.since, lf.sinceGiven = created, true
			}
		}
	}
	return lf, nil
}

func createdOf(sums []cimage.Summary, id string) int64 {
	for _, s := range sums {
		if s.ID == id {
			return s.Created
		}
	}
	return 0
}

func (lf listFilter) keep(s cimage.Summary) bool {
	dangling := len(s.RepoTags) == 0
	switch {
	case lf.dangling != nil && *lf.dangling != dangling,
		lf.beforeGiven && s.Created >= lf.before,
		lf.sinceGiven && s.Created <= lf.since,
		!lf.until.IsZero() && s.Created >= lf.until.Unix(),
		!matchLabels(s.Labels, lf.labels):
		return false
	}
	if len(lf.references) == 0 {
		return true
	}
	for _, pattern := range lf.references {
		for _, name := range append(append([]string{}, s.RepoTags...), s.RepoDigests...) {
			if matchReference(pattern, name) {
				return true
			}
		}
	}
	return false
}

// matchReference matches a reference filter as dockerd: a glob on the
// familiar name, or on name:tag when the pattern has a tag.
func matchReference(pattern, name string) bool {
	ref, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return false
	}
	ok, err := reference.FamiliarMatch(pattern, ref)
	return err == nil && ok
}

// matchLabels reports whether labels has every "key" or "key=value".
func matchLabels(labels map[string]string, want []string) bool {
	for _, w := range want {
		k, v, hasValue := strings.Cut(w, "=")
		got, ok := labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}
