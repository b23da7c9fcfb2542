package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
)

type loadOptions struct {
	input string
	quiet bool
}

func (c *cli) loadCommand() *cobra.Command {
	var o loadOptions
	cmd := &cobra.Command{
		Use:         "load [OPTIONS]",
		Short:       "Load an image from a tar archive or STDIN",
		Args:        noArgs,
		Annotations: map[string]string{"aliases": "corral image load, corral load"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.load(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

func (c *cli) load(ctx context.Context, o loadOptions) error {
	input := c.in
	if o.input == "" {
		if isTerminal(c.in) {
			return errors.New("requested load from stdin, but stdin is empty")
		}
	} else {
		f, err := os.Open(o.input)
		if err != nil {
			return err
		}
		defer f.Close()
		input = f
	}
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	body, err := client.ImageLoad(ctx, input, api.ImageLoadOptions{Quiet: o.quiet || !isTerminal(c.out)})
	if err != nil {
		return err
	}
	defer body.Close()
	return c.display(c.out).run(ctx, body)
}

func (c *cli) saveCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:         "save [OPTIONS] IMAGE [IMAGE...]",
		Short:       "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:        minArgs(1),
		Annotations: map[string]string{"aliases": "corral image save, corral save"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.save(cmd.Context(), args, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// save writes the archive to stdout, refusing a terminal, or to a file
// that appears whole or not at all.
func (c *cli) save(ctx context.Context, refs []string, output string) error {
	return c.writeTar(output, "failed to save image", func() (io.ReadCloser, error) {
		client, err := c.client(ctx)
		if err != nil {
			return nil, err
		}
		return client.ImageSave(ctx, refs)
	})
}

// writeTar copies the tar that open answers to stdout, refusing a
// terminal, or to the file output, which appears whole or not at all;
// failed prefixes an error creating it.
func (c *cli) writeTar(output, failed string, open func() (io.ReadCloser, error)) (err error) {
	var w io.Writer = c.out
	if output == "" {
		if isTerminal(c.out) {
			return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
	} else {
		f, ferr := newAtomicFile(output)
		if ferr != nil {
			return fmt.Errorf("%s: %w", failed, ferr)
		}
		defer func() { err = f.finish(err) }()
		w = f
	}
	body, err := open()
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = io.Copy(w, body)
	return err
}

// atomicFile is written beside its final path and renamed over it when
// complete.
type atomicFile struct {
	*os.File
	path string
}

func newAtomicFile(path string) (*atomicFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("invalid output path: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("invalid output path: %q is not a directory", filepath.Dir(abs))
	}
	f, err := os.CreateTemp(filepath.Dir(abs), ".tmp-"+filepath.Base(abs))
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &atomicFile{File: f, path: abs}, nil
}

// finish renames the file into place if err is nil, else removes it.
func (f *atomicFile) finish(err error) error {
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// listFlag is a repeatable string flag shown as docker's "list".
type listFlag []string

func (l *listFlag) String() string {
	if len(*l) == 0 {
		return ""
	}
	return fmt.Sprintf("%v", []string(*l))
}

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func (l *listFlag) Type() string { return "list" }

type importOptions struct {
	changes  []string
	message  string
	platform string
}

func (c *cli) importCommand() *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:         "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short:       "Import the contents from a tarball to create a filesystem image",
		Args:        minArgs(1),
		Annotations: map[string]string{"aliases": "corral image import, corral import"},
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) > 1 {
				ref = args[1]
			}
			return c.importImage(cmd.Context(), args[0], ref, o)
		},
	}
	f := cmd.Flags()
	f.VarP((*listFlag)(&o.changes), "change", "c", "Apply Dockerfile instruction to the created image")
	f.StringVarP(&o.message, "message", "m", "", "Set commit message for imported image")
	f.StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

func (c *cli) importImage(ctx context.Context, source, ref string, o importOptions) error {
	var r io.Reader
	switch {
	case source == "-":
		r = c.in
	case strings.HasPrefix(source, "https://"), strings.HasPrefix(source, "http://"):
		return errors.New("importing from a URL is not supported; download the file and import it")
	default:
		f, err := os.Open(source)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	body, err := client.ImageImport(ctx, r, ref, api.ImageImportOptions{
		Message: o.message, Changes: o.changes, Platform: o.platform,
	})
	if err != nil {
		return err
	}
	defer body.Close()
	return c.display(c.out).run(ctx, body)
}
