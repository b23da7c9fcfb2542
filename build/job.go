package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/image"
)

// proxyArgs are the build args every Dockerfile may use without an ARG;
// they reach RUN's environment but neither the cache key nor the image.
var proxyArgs = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
	"ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}

// job is one build: the Dockerfile, its context, and the stages built so
// far.
type job struct {
	b     *Builder
	df    *Dockerfile
	bctx  *source
	opts  api.BuildOptions
	p     *progress
	lex   *shell.Lex
	meta  map[string]string // ARGs before the first FROM
	sh    *shared           // what the stages building at once share
	step  int               // the last step number printed (per stage)
	total int
	epoch *time.Time // SOURCE_DATE_EPOCH
}

// shared is the part of a job its stages, building at once, share.
type shared struct {
	mu      sync.Mutex
	results map[int]state   // stages built
	used    map[string]bool // build args some ARG declared
	secrets string          // the tmpfs of secret files, once mounted
}

// state is where a stage is: the image its last step made ("" while
// scratch), the config it has, the ARGs in scope.
type state struct {
	id     string
	cfg    image.ContainerConfig
	args   map[string]string
	cmdSet bool
}

func newJob(b *Builder, df *Dockerfile, bctx *source, opts api.BuildOptions, p *progress) *job {
	return &job{b: b, df: df, bctx: bctx, opts: opts, p: p, lex: shell.NewLex(df.Escape),
		meta: map[string]string{}, sh: &shared{results: map[int]state{}, used: map[string]bool{}}}
}

// result is the state stage k ended in.
func (j *job) result(k int) state {
	j.sh.mu.Lock()
	defer j.sh.mu.Unlock()
	return j.sh.results[k]
}

// use records that an ARG declared the build arg k.
func (j *job) use(k string) {
	j.sh.mu.Lock()
	defer j.sh.mu.Unlock()
	j.sh.used[k] = true
}

// run builds the stages the target needs and answers the last one's image.
func (j *job) run(ctx context.Context) (string, error) {
	if err := j.metaArgs(); err != nil {
		return "", err
	}
	plan, err := j.df.Plan(j.opts.Target, j.baseName)
	if err != nil {
		return "", err
	}
	for _, i := range plan {
		j.total += 1 + len(j.df.Stages[i].Commands)
	}
	if err := j.runStages(ctx, plan); err != nil {
		return "", err
	}
	last := j.result(plan[len(plan)-1])
	if last.id == "" {
		return "", errdefs.InvalidArgument(errors.New("no image was generated: is the Dockerfile empty?"))
	}
	return last.id, nil
}

// metaArgs sets the ARGs before the first FROM, a build arg overriding
// the default.
func (j *job) metaArgs() error {
	for _, a := range j.df.MetaArgs {
		for _, kv := range a.Args {
			j.use(kv.Key)
			if v, ok := j.opts.BuildArgs[kv.Key]; ok && v != nil {
				j.meta[kv.Key] = *v
				continue
			}
			if kv.Value == nil {
				continue
			}
			v, _, err := j.lex.ProcessWord(*kv.Value, vars(j.meta))
			if err != nil {
				return at(j.df.Name, a.Location(), err)
			}
			j.meta[kv.Key] = v
		}
	}
	return nil
}

// baseName is stage i's FROM, its ARGs expanded with the meta args.
func (j *job) baseName(i int) string {
	v, _, err := j.lex.ProcessWord(j.df.Stages[i].BaseName, vars(j.meta))
	if err != nil {
		return j.df.Stages[i].BaseName
	}
	return v
}

// runStage builds stage i: its FROM, the base image's ONBUILD triggers,
// then its instructions.
func (j *job) runStage(ctx context.Context, i int) (state, error) {
	st := j.df.Stages[i]
	j.stepf(st.SourceCode)
	s, err := j.from(ctx, i)
	if err != nil {
		return state{}, at(j.df.Name, st.Location, err)
	}
	j.p.printf(" ---> %s", shortIDOr(s.id))
	if err := j.triggers(ctx, &s); err != nil {
		return state{}, err
	}
	for _, c := range st.Commands {
		j.stepf(c.(fmt.Stringer).String())
		if err := j.dispatch(ctx, &s, c); err != nil {
			var ee *ExitError
			if asExit(err, &ee) {
				return state{}, err
			}
			return state{}, at(j.df.Name, c.Location(), err)
		}
	}
	return s, nil
}

func (j *job) stepf(text string) {
	j.step++
	j.p.printf("Step %d/%d : %s", j.step, j.total, text)
}

// from is the state stage i starts in: an earlier stage's, scratch's or
// an image's (pulled first with --pull, else it must be here).
func (j *job) from(ctx context.Context, i int) (state, error) {
	base := j.baseName(i)
	s := state{args: map[string]string{}}
	if k := j.df.stageRef(base); k >= 0 {
		r := j.result(k)
		s.id, s.cfg = r.id, r.cfg.Clone()
		return s, nil
	}
	if strings.EqualFold(base, "scratch") {
		s.cfg.Env = withDefaultPath(s.cfg.Env)
		return s, nil
	}
	if j.opts.Pull {
		if err := j.pull(ctx, base); err != nil {
			return state{}, err
		}
	}
	img, err := j.b.opts.Images.Image(ctx, base)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return state{}, errdefs.NotFound(fmt.Errorf("base image %s is not here (the builder does not pull: pull it first): %w", base, err))
		}
		return state{}, err
	}
	s.id = img.ID
	if img.Config != nil {
		s.cfg = img.Config.Clone()
	}
	s.cfg.Env = withDefaultPath(s.cfg.Env)
	return s, nil
}

// pull fetches base from its registry for --pull, as docker build does
// for every FROM image: a pull that fails fails the build.
func (j *job) pull(ctx context.Context, base string) error {
	if j.b.opts.Puller == nil {
		return errdefs.Wrap(errdefs.ErrNotImplemented, fmt.Errorf("--pull: this builder cannot pull images (base image %s)", base))
	}
	if err := j.b.opts.Puller.Pull(ctx, base, j.opts.RegistryConfig, j.p); err != nil {
		return fmt.Errorf("pull base image %s (--pull): %w", base, err)
	}
	return nil
}

// defaultPath is the PATH docker's builder and buildah give a stage whose
// base image sets none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// withDefaultPath is env with defaultPath added when it has no PATH.
func withDefaultPath(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return env
		}
	}
	return append(env, defaultPath)
}

// triggers runs the ONBUILD instructions the base image holds, and clears
// them from the config.
func (j *job) triggers(ctx context.Context, s *state) error {
	trig := s.cfg.OnBuild
	if len(trig) == 0 {
		return nil
	}
	s.cfg.OnBuild = nil
	j.p.printf("# Executing %d build trigger(s)", len(trig))
	for _, t := range trig {
		df, err := Parse("ONBUILD", []byte("FROM scratch\n"+t))
		if err != nil || len(df.Stages[0].Commands) != 1 {
			return errdefs.InvalidArgument(fmt.Errorf("base image's ONBUILD %q: %v", t, err))
		}
		if err := j.dispatch(ctx, s, df.Stages[0].Commands[0]); err != nil {
			return fmt.Errorf("ONBUILD %s: %w", t, err)
		}
	}
	return nil
}

// cached makes the step with key: the image the cache holds for it, else
// what do makes, then recorded in the cache.
func (j *job) cached(ctx context.Context, s *state, key string, do func() (string, error)) error {
	if !j.opts.NoCache {
		id, ok, err := j.b.opts.Cache.CacheGet(ctx, key)
		if err != nil {
			return err
		}
		if ok {
			j.p.printf(" ---> Using cache")
			s.id = id
			j.p.printf(" ---> %s", shortID(id))
			return nil
		}
	}
	id, err := do()
	if err != nil {
		return err
	}
	if err := j.b.opts.Cache.CachePut(ctx, key, id); err != nil {
		return err
	}
	s.id = id
	j.p.printf(" ---> %s", shortID(id))
	return nil
}

// cacheKey is the key of a step on s: the parent image, the instruction
// and the build args in effect (not the proxy ones), and extra (the
// digest of the files a COPY reads).
func cacheKey(s *state, text, extra string) string {
	h := sha256.New()
	fmt.Fprintf(h, "corral-build-v1\x00%s\x00%s\x00", s.id, text)
	for _, k := range slices.Sorted(maps.Keys(s.args)) {
		if !slices.Contains(proxyArgs, k) {
			fmt.Fprintf(h, "%s=%s\x00", k, s.args[k])
		}
	}
	fmt.Fprintf(h, "\x00%s", extra)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// key is cacheKey with the build's SOURCE_DATE_EPOCH, which changes
// what a step makes.
func (j *job) key(s *state, text, extra string) string {
	if j.epoch != nil {
		extra += fmt.Sprintf("\x00epoch=%d", j.epoch.Unix())
	}
	return cacheKey(s, text, extra)
}

// finish labels, announces and tags the image id.
func (j *job) finish(ctx context.Context, id string) error {
	if len(j.opts.Labels) > 0 {
		s := state{id: id, args: map[string]string{}}
		img, err := j.b.opts.Images.Image(ctx, id)
		if err != nil {
			return err
		}
		if img.Config != nil {
			s.cfg = img.Config.Clone()
		}
		if err := j.label(ctx, &s, j.opts.Labels); err != nil {
			return err
		}
		id = s.id
	}
	j.warnUnused()
	j.p.image(id)
	j.p.printf("Successfully built %s", shortID(id))
	for _, t := range j.opts.Tags {
		if err := j.b.opts.Images.Tag(ctx, id, t); err != nil {
			return err
		}
		j.p.printf("Successfully tagged %s", familiar(t))
	}
	return nil
}

// warnUnused warns of build args no ARG declared, as docker does.
func (j *job) warnUnused() {
	var unused []string
	for k := range j.opts.BuildArgs {
		if !j.sh.used[k] && !slices.Contains(proxyArgs, k) && k != "SOURCE_DATE_EPOCH" {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		slices.Sort(unused)
		j.p.printf("[Warning] One or more build-args %v were not consumed", unused)
	}
}

// familiar is ref as docker prints it: short name, tag latest by default.
func familiar(ref string) string {
	n, err := image.ParseReference(ref)
	if err != nil {
		return ref
	}
	return image.FamiliarString(n)
}

func shortIDOr(id string) string {
	if id == "" {
		return "scratch"
	}
	return shortID(id)
}

func asExit(err error, target **ExitError) bool { return errors.As(err, target) }

// vars is a variable map as the shell lexer reads it.
type vars map[string]string

func (v vars) Get(k string) (string, bool) { s, ok := v[k]; return s, ok }
func (v vars) Keys() []string              { return slices.Sorted(maps.Keys(v)) }

// scope is what ${X} sees on s: its ARGs, then its ENV over them.
func scope(s *state) vars {
	m := maps.Clone(s.args)
	if m == nil {
		m = map[string]string{}
	}
	for _, e := range s.cfg.Env {
		k, v, _ := strings.Cut(e, "=")
		m[k] = v
	}
	return m
}

// expander expands words on s for instructions that take variables.
func (j *job) expander(s *state) instructions.SingleWordExpander {
	return func(w string) (string, error) {
		r, _, err := j.lex.ProcessWord(w, scope(s))
		return r, err
	}
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func itoa(n int) string { return fmt.Sprint(n) }
