package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/archive"
)

// cpConfig is one `cp`: a container path and a local path.
type cpConfig struct {
	followLink, copyUIDGID, quiet bool
	container, src, dst           string
}

func (c *cli) cpCommand() *cobra.Command {
	var o cpConfig
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tcorral cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: "Copy files/folders between a container and the local filesystem\n\n" +
			"Use '-' as the source to read a tar archive from stdin\n" +
			"and extract it to a directory destination in a container.\n" +
			"Use '-' as the destination to stream a tar archive of a\n" +
			"container source to stdout.",
		Args:        exactArgs(2),
		Annotations: map[string]string{"aliases": "corral container cp, corral cp"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("quiet") {
				// No progress output when stdout is not a terminal.
				o.quiet = !isTerminal(c.out)
			}
			return c.cp(cmd.Context(), args[0], args[1], o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.followLink, "follow-link", "L", false, "Always follow symlinks in SRC_PATH")
	f.BoolVarP(&o.copyUIDGID, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	f.BoolVarP(&o.quiet, "quiet", "q", false,
		"Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// cp copies between the container named in source or destination and the
// local filesystem.
func (c *cli) cp(ctx context.Context, source, dest string, o cpConfig) error {
	switch {
	case source == "":
		return errors.New("source can not be empty")
	case dest == "":
		return errors.New("destination can not be empty")
	}
	srcCtr, src := splitCpArg(source)
	dstCtr, dst := splitCpArg(dest)
	o.src, o.dst = src, dst
	switch {
	case srcCtr != "" && dstCtr != "":
		return errors.New("copying between containers is not supported")
	case srcCtr == "" && dstCtr == "":
		return errors.New("must specify at least one container source")
	}
	ca, err := c.copyAPI(ctx)
	if err != nil {
		return err
	}
	if srcCtr != "" {
		o.container = srcCtr
		return c.copyFromContainer(ctx, ca, o)
	}
	o.container = dstCtr
	return c.copyToContainer(ctx, ca, o)
}

// splitCpArg splits CONTAINER:PATH; a local path with a ":" must be made
// explicit ("./a:b" or "/a:b"), as docker has it.
func splitCpArg(arg string) (ctr, path string) {
	if filepath.IsAbs(arg) {
		return "", arg
	}
	ctr, path, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(ctr, ".") {
		return "", arg
	}
	return ctr, path
}

// resolveLocalPath makes p absolute, keeping a trailing "/" or "/.".
func resolveLocalPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return archive.PreserveTrailingDotOrSeparator(abs, p), nil
}

// linkTarget is the path a container symlink at p leads to, made
// absolute from p's directory when the stat gave a relative one.
func linkTarget(p, target string) string {
	if filepath.IsAbs(target) {
		return target
	}
	parent, _ := archive.SplitPathDirEntry(p)
	return filepath.Join(parent, target)
}

// copyFromContainer copies o.src of the container to the local o.dst (a
// tar on stdout for "-").
func (c *cli) copyFromContainer(ctx context.Context, ca CopyAPI, o cpConfig) error {
	dst := o.dst
	if dst != "-" {
		var err error
		if dst, err = resolveLocalPath(dst); err != nil {
			return err
		}
	}
	if err := validateOutputPath(dst); err != nil {
		return err
	}
	src, rebase := o.src, ""
	if o.followLink {
		src, rebase = followContainerLink(ctx, ca, o.container, src)
	}
	content, st, err := ca.CopyFromContainer(ctx, o.container, src)
	if err != nil {
		return err
	}
	defer content.Close()
	if dst == "-" {
		_, err = io.Copy(c.out, content)
		return err
	}
	info := archive.CopyInfo{Path: src, Exists: true, IsDir: st.Mode.IsDir(), RebaseName: rebase}
	var copied int64
	var r io.Reader = content
	if !o.quiet {
		r = &countingReader{r: content, n: &copied}
	}
	if rebase != "" {
		_, base := archive.SplitPathDirEntry(src)
		rc := archive.RebaseArchiveEntries(r, base, rebase)
		defer rc.Close()
		r = rc
	}
	if o.quiet {
		return archive.CopyTo(ctx, r, info, dst)
	}
	stop := c.copyProgress(ctx, "Copying from container - ", &copied)
	err = archive.CopyTo(ctx, r, info, dst)
	stop()
	fmt.Fprintln(c.err, "Successfully copied", humanCopySize(atomic.LoadInt64(&copied)), "to", dst)
	return err
}

// followContainerLink returns the path the container symlink src leads
// to, with the name its copy must take; src itself if it is no symlink.
func followContainerLink(ctx context.Context, ca CopyAPI, ctr, src string) (string, string) {
	st, err := ca.ContainerStatPath(ctx, ctr, src)
	if err != nil || st.Mode&os.ModeSymlink == 0 {
		return src, ""
	}
	return archive.GetRebaseName(src, linkTarget(src, st.LinkTarget))
}

// copyToContainer copies the local o.src (a tar on stdin for "-") to o.dst
// of the container.
func (c *cli) copyToContainer(ctx context.Context, ca CopyAPI, o cpConfig) error {
	src := o.src
	if src != "-" {
		var err error
		if src, err = resolveLocalPath(src); err != nil {
			return err
		}
	}
	dstInfo, err := c.containerDest(ctx, ca, o)
	if err != nil {
		return err
	}
	var content io.Reader
	var copied int64
	dstDir := dstInfo.Path
	if src == "-" {
		if !dstInfo.IsDir {
			return fmt.Errorf("destination \"%s:%s\" must be a directory", o.container, o.dst)
		}
		content = c.in
	} else {
		rc, dir, err := localSource(ctx, src, o.followLink, dstInfo)
		if err != nil {
			return err
		}
		defer rc.Close()
		content, dstDir = rc, dir
		if !o.quiet {
			content = &countingReader{r: rc, n: &copied}
		}
	}
	opts := api.ArchiveExtractOptions{NoOverwriteDirNonDir: true, CopyUIDGID: o.copyUIDGID}
	if o.quiet {
		return ca.CopyToContainer(ctx, o.container, dstDir, content, opts)
	}
	stop := c.copyProgress(ctx, "Copying to container - ", &copied)
	err = ca.CopyToContainer(ctx, o.container, dstDir, content, opts)
	stop()
	fmt.Fprintln(c.err, "Successfully copied", humanCopySize(atomic.LoadInt64(&copied)), "to", o.container+":"+dstInfo.Path)
	return err
}

// containerDest describes the destination o.dst in the container: a final
// symlink followed once; what cannot be stat'ed is taken not to exist (the
// extraction tells if its directory does not either).
func (c *cli) containerDest(ctx context.Context, ca CopyAPI, o cpConfig) (archive.CopyInfo, error) {
	info := archive.CopyInfo{Path: o.dst}
	st, err := ca.ContainerStatPath(ctx, o.container, o.dst)
	if err == nil && st.Mode&os.ModeSymlink != 0 {
		info.Path = linkTarget(o.dst, st.LinkTarget)
		st, err = ca.ContainerStatPath(ctx, o.container, info.Path)
	}
	if verr := validateOutputPathFileMode(st.Mode); verr != nil {
		return info, fmt.Errorf("destination \"%s:%s\" must be a directory or a regular file: %w", o.container, o.dst, verr)
	}
	if err == nil {
		info.Exists, info.IsDir = true, st.Mode.IsDir()
	}
	return info, nil
}

// localSource is the tar of the local path src, prepared for the
// destination dst: renamed as the copy needs, and the container directory
// it is to be extracted into.
func localSource(ctx context.Context, src string, followLink bool, dst archive.CopyInfo) (io.ReadCloser, string, error) {
	info, err := archive.CopyInfoSourcePath(src, followLink)
	if err != nil {
		return nil, "", err
	}
	tr, err := archive.TarResource(ctx, info)
	if err != nil {
		return nil, "", err
	}
	dir, rc, err := archive.PrepareArchiveCopy(tr, info, dst)
	if err != nil {
		tr.Close()
		return nil, "", err
	}
	return readCloser{Reader: rc, close: func() error { rc.Close(); return tr.Close() }}, dir, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	atomic.AddInt64(c.n, int64(n))
	return n, err
}

// validateOutputPath checks the local destination of a copy as docker
// does: its directory exists; if it exists, it is a directory or a regular
// file.
func validateOutputPath(p string) error {
	dir := filepath.Dir(filepath.Clean(p))
	if dir != "" && dir != "." {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return fmt.Errorf("invalid output path: directory %q does not exist", dir)
		}
	}
	fi, err := os.Stat(p)
	switch {
	case os.IsNotExist(err):
		return nil
	case err != nil:
		return err
	case fi.Mode().IsDir() || fi.Mode().IsRegular():
		return nil
	}
	if err := validateOutputPathFileMode(fi.Mode()); err != nil {
		return fmt.Errorf("invalid output path: %q must be a directory or a regular file: %w", p, err)
	}
	return nil
}

// validateOutputPathFileMode refuses devices and other irregular files.
func validateOutputPathFileMode(m os.FileMode) error {
	switch {
	case m&os.ModeDevice != 0:
		return errors.New("got a device")
	case m&os.ModeIrregular != 0:
		return errors.New("got an irregular file")
	}
	return nil
}
