package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
)

// CopyAPI is the engine's calls that `cp` makes, named as the docker
// client names them; client.Client implements it.
type CopyAPI interface {
	// ContainerStatPath stats a path of the container (HEAD archive).
	ContainerStatPath(ctx context.Context, name, path string) (container.PathStat, error)
	// CopyFromContainer answers a tar of a path of the container and the
	// path's stat.
	CopyFromContainer(ctx context.Context, name, srcPath string) (io.ReadCloser, container.PathStat, error)
	// CopyToContainer extracts a tar into a directory of the container.
	CopyToContainer(ctx context.Context, name, dstPath string, content io.Reader, opts api.ArchiveExtractOptions) error
}

// FilesAPI is the engine's other calls on a container's filesystem.
type FilesAPI interface {
	ContainerDiff(ctx context.Context, name string) ([]container.FilesystemChange, error)
	// ContainerExport answers a tar of the container's root filesystem.
	ContainerExport(ctx context.Context, name string) (io.ReadCloser, error)
	// ContainerCommit makes an image of the container; opts.Repo may be a
	// whole reference ("repo:tag").
	ContainerCommit(ctx context.Context, name string, opts api.ContainerCommitOptions) (container.CommitResponse, error)
}

// filesCommands are the commands on a container's filesystem (cp, diff,
// export, commit).
func (c *cli) filesCommands() []named {
	return []named{{"cp", c.cpCommand}, {"diff", c.diffCommand}, {"export", c.exportCommand}, {"commit", c.commitCommand}}
}

// copyAPI is the engine's client as a CopyAPI.
func (c *cli) copyAPI(ctx context.Context) (CopyAPI, error) {
	client, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	ca, ok := client.(CopyAPI)
	if !ok {
		return nil, fmt.Errorf("the engine's client (%T) has no copy calls", client)
	}
	return ca, nil
}

// filesAPI is the engine's client as a FilesAPI.
func (c *cli) filesAPI(ctx context.Context) (FilesAPI, error) {
	client, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	fa, ok := client.(FilesAPI)
	if !ok {
		return nil, fmt.Errorf("the engine's client (%T) has no diff, export and commit calls", client)
	}
	return fa, nil
}

func (c *cli) diffCommand() *cobra.Command {
	return &cobra.Command{
		Use:         "diff CONTAINER",
		Short:       "Inspect changes to files or directories on a container's filesystem",
		Args:        exactArgs(1),
		Annotations: map[string]string{"aliases": "corral container diff, corral diff"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.diff(cmd.Context(), args[0])
		},
	}
}

// diff prints the container's changes, "C /etc", "A /etc/x", "D /y".
func (c *cli) diff(ctx context.Context, name string) error {
	if name == "" {
		return emptyNameError{}
	}
	fa, err := c.filesAPI(ctx)
	if err != nil {
		return err
	}
	changes, err := fa.ContainerDiff(ctx, name)
	if err != nil {
		return err
	}
	for _, ch := range changes {
		fmt.Fprintf(c.out, "%s %s\n", ch.Kind, ch.Path)
	}
	return nil
}

// emptyNameError is docker's answer to `diff ""`, in its wording.
type emptyNameError struct{}

func (emptyNameError) Error() string { return "Container name cannot be empty" }

func (c *cli) exportCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:         "export [OPTIONS] CONTAINER",
		Short:       "Export a container's filesystem as a tar archive",
		Args:        exactArgs(1),
		Annotations: map[string]string{"aliases": "corral container export, corral export"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.export(cmd.Context(), args[0], output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// export writes the container's root filesystem as a tar to stdout,
// refusing a terminal, or to a file that appears whole or not at all.
func (c *cli) export(ctx context.Context, name, output string) error {
	return c.writeTar(output, "failed to export container", func() (io.ReadCloser, error) {
		fa, err := c.filesAPI(ctx)
		if err != nil {
			return nil, err
		}
		return fa.ContainerExport(ctx, name)
	})
}
