package daemon

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	cimage "github.com/corral-dev/corral/image"
)

// dockerConfig converts an image's container config to the API's.
func dockerConfig(c *cimage.ContainerConfig) *dockerspec.DockerOCIImageConfig {
	if c == nil {
		return nil
	}
	out := &dockerspec.DockerOCIImageConfig{
		ImageConfig: ocispec.ImageConfig{
			User: c.User, ExposedPorts: c.ExposedPorts, Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd,
			Volumes: c.Volumes, WorkingDir: c.WorkingDir, Labels: c.Labels, StopSignal: c.StopSignal,
			//lint:ignore SA1019 docker still shows it.
			ArgsEscaped: c.ArgsEscaped,
		},
		DockerOCIImageConfigExt: dockerspec.DockerOCIImageConfigExt{OnBuild: c.OnBuild, Shell: c.Shell},
	}
	if h := c.Healthcheck; h != nil {
		out.Healthcheck = &dockerspec.HealthcheckConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	return out
}

// invalidFilter is dockerd's message for a filter value it cannot use.
func invalidFilter(key, value string) error {
	return errdefs.InvalidArgument(fmt.Errorf("invalid filter '%s=%s'", key, value))
}

// boolFilter reads a filter that takes true or false (also 1 and 0);
// def when absent.
func boolFilter(f api.Filters, key string, def bool) (bool, error) {
	vals := f.Get(key)
	if len(vals) == 0 {
		return def, nil
	}
	var result bool
	for n, v := range vals {
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			return false, invalidFilter(key, v)
		}
		if n > 0 && b != result {
			return false, errdefs.InvalidArgument(fmt.Errorf("invalid filter '%s': conflicting values", key))
		}
		result = b
	}
	return result, nil
}

// untilFilter reads until= as docker's timestamps: an RFC 3339 date, a Unix
// time (seconds[.nanoseconds]) or a duration before now ("24h").
func untilFilter(f api.Filters, now time.Time) (time.Time, error) {
	vals := f.Get("until")
	switch len(vals) {
	case 0:
		return time.Time{}, nil
	case 1:
	default:
		return time.Time{}, errdefs.InvalidArgument(fmt.Errorf("more than one until filter specified"))
	}
	v := vals[0]
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	sec, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, invalidFilter("until", v)
	}
	var ns int64
	if frac != "" {
		if ns, err = strconv.ParseInt((frac + "000000000")[:9], 10, 64); err != nil {
			return time.Time{}, invalidFilter("until", v)
		}
	}
	return time.Unix(s, ns), nil
}

// pruneOptions reads the filters of POST /images/prune.
func pruneOptions(f api.Filters, now time.Time) (cimage.PruneOptions, error) {
	var opts cimage.PruneOptions
	if err := f.Validate("dangling", "until", "label", "label!"); err != nil {
		return opts, errdefs.InvalidArgument(err)
	}
	dangling, err := boolFilter(f, "dangling", true)
	if err != nil {
		return opts, err
	}
	opts.All = !dangling
	if opts.Until, err = untilFilter(f, now); err != nil {
		return opts, err
	}
	opts.Labels = append(opts.Labels, f.Get("label")...)
	for _, l := range f.Get("label!") {
		opts.Labels = append(opts.Labels, "!"+l)
	}
	return opts, nil
}
