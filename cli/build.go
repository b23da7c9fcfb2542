package cli

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
)

// BuildAPI is POST /build: the classic builder on a context tar, answering
// a JSON message stream.
type BuildAPI interface {
	ImageBuild(ctx context.Context, buildContext io.Reader, opts api.BuildOptions) (io.ReadCloser, error)
}

type buildOptions struct {
	api.BuildOptions
	buildArgs, labels []string
	secrets           []string
	iidfile           string
}

func (c *cli) buildCommand() *cobra.Command {
	var o buildOptions
	cmd := &cobra.Command{
		Use:         "build [OPTIONS] PATH | -",
		Short:       "Build an image from a Dockerfile",
		Args:        rangeArgs(1, 1),
		Annotations: map[string]string{"aliases": "corral build"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.build(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.VarP((*listFlag)(&o.Tags), "tag", "t", `Name and optionally a tag in the "name:tag" format`)
	f.StringVarP(&o.Dockerfile, "file", "f", "", `Name of the Dockerfile (default: "PATH/Dockerfile")`)
	f.Var((*listFlag)(&o.buildArgs), "build-arg", "Set build-time variables")
	f.Var((*listFlag)(&o.labels), "label", "Set metadata for an image")
	f.StringVar(&o.Target, "target", "", "Set the target build stage to build")
	f.BoolVar(&o.NoCache, "no-cache", false, "Do not use cache when building the image")
	f.BoolVar(&o.Pull, "pull", false, "Always attempt to pull a newer version of the image")
	f.StringVar(&o.Platform, "platform", "", "Set platform if server is multi-platform capable")
	f.StringVar(&o.NetworkMode, "network", "", "Set the networking mode for the RUN instructions during build (default none)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	f.StringVar(&o.iidfile, "iidfile", "", "Write the image ID to the file")
	f.Var((*listFlag)(&o.secrets), "secret", `Secret to expose to RUN --mount=type=secret ("id=mysecret[,src=/local/secret]" or "id=X,env=VAR")`)
	return cmd
}

// build sends the context at dir ("-": a tar on stdin) and shows the
// build's progress as docker's classic builder does.
func (c *cli) build(ctx context.Context, dir string, o buildOptions) error {
	if err := o.parse(); err != nil {
		return err
	}
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	ba, ok := client.(BuildAPI)
	if !ok {
		return fmt.Errorf("the engine's client (%T) cannot build", client)
	}
	body, err := c.buildContext(dir, o.Dockerfile)
	if err != nil {
		return err
	}
	defer body.Close()
	resp, err := ba.ImageBuild(ctx, body, o.BuildOptions)
	if err != nil {
		return err
	}
	defer resp.Close()
	var id string
	out := c.out
	if o.Quiet {
		out = io.Discard // the server's output is the ID, printed below
	}
	d := c.display(out)
	d.aux = func(raw json.RawMessage) {
		var a struct{ ID string }
		if json.Unmarshal(raw, &a) == nil && a.ID != "" {
			id = a.ID
		}
	}
	if err := d.run(ctx, resp); err != nil {
		return err
	}
	return o.report(c.out, id)
}

// parse turns --build-arg and --label into the request's maps; a build
// arg without "=" takes its value from the environment, if set there.
func (o *buildOptions) parse() error {
	o.BuildArgs = map[string]*string{}
	for _, a := range o.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			env, set := os.LookupEnv(k)
			if !set {
				o.BuildArgs[k] = nil
				continue
			}
			v = env
		}
		o.BuildArgs[k] = &v
	}
	sourceDateEpoch(o.BuildArgs)
	if err := o.parseSecrets(); err != nil {
		return err
	}
	o.Labels = map[string]string{}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return fmt.Errorf("invalid label %q: the key is empty", l)
		}
		o.Labels[k] = v
	}
	return nil
}

// report prints the ID (-q) and writes the --iidfile.
func (o *buildOptions) report(out io.Writer, id string) error {
	if id == "" {
		return errors.New("the server did not answer the built image's ID")
	}
	if o.Quiet {
		fmt.Fprintln(out, id)
	}
	if o.iidfile != "" {
		if err := os.WriteFile(o.iidfile, []byte(id), 0o644); err != nil {
			return fmt.Errorf("write iidfile: %w", err)
		}
	}
	return nil
}

// buildContext is the tar of the context dir, without what .dockerignore
// excludes (the Dockerfile and .dockerignore always go); "-" is stdin.
func (c *cli) buildContext(dir, dockerfile string) (io.ReadCloser, error) {
	if dir == "-" {
		return io.NopCloser(c.in), nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("unable to prepare context: %s is not a directory", dir)
	}
	ignore, err := readIgnore(dir)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{".dockerignore": true, "Dockerfile": dockerfile == ""}
	if dockerfile != "" {
		keep[filepath.ToSlash(filepath.Clean(dockerfile))] = true
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarContext(pw, dir, ignore, keep)) }()
	return pr, nil
}

func readIgnore(dir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pats, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	return patternmatcher.New(pats)
}

// tarContext writes the files of dir to w as a tar, symlinks as links.
func tarContext(w io.Writer, dir string, ignore *patternmatcher.PatternMatcher, keep map[string]bool) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ignore != nil && !keep[rel] {
			if m, _ := ignore.MatchesOrParentMatches(rel); m {
				if d.IsDir() && !ignore.Exclusions() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		return addToTar(tw, p, rel, d)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func addToTar(tw *tar.Writer, p, rel string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name, hdr.Uname, hdr.Gname = rel, "", ""
	if fi.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
