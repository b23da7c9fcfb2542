package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/registry"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/internal/reference"
)

// dockerHubServer is how docker names Docker Hub in credentials and in
// X-Registry-Auth.
const dockerHubServer = "https://index.docker.io/v1/"

type pullOptions struct {
	all      bool
	quiet    bool
	platform string
	trust    bool
}

func (c *cli) pullCommand() *cobra.Command {
	var o pullOptions
	cmd := &cobra.Command{
		Use:         "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short:       "Download an image from a registry",
		Args:        exactArgs(1),
		Annotations: map[string]string{"aliases": "corral image pull, corral pull"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.pull(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all-tags", "a", false, "Download all tagged images in the repository")
	f.BoolVar(&o.trust, "disable-content-trust", true, "Skip image verification")
	f.StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}

func (c *cli) pull(ctx context.Context, remote string, o pullOptions) error {
	ref, err := reference.ParseNormalizedNamed(remote)
	switch {
	case err != nil:
		return err
	case o.all && !reference.IsNameOnly(ref):
		return errors.New("tag can't be used with --all-tags/-a")
	case o.all:
		return errors.New("pulling all tags (--all-tags) is not supported")
	case reference.IsNameOnly(ref):
		ref = reference.TagNameOnly(ref)
		if t, ok := ref.(reference.Tagged); ok && !o.quiet {
			fmt.Fprintln(c.out, "Using default tag:", t.Tag())
		}
	}
	auth, err := c.encodedAuth(ref)
	if err != nil {
		return err
	}
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	body, err := client.ImagePull(ctx, reference.FamiliarString(ref), api.ImagePullOptions{
		RegistryAuth: auth, Platform: o.platform,
	})
	if err != nil {
		return err
	}
	defer body.Close()
	out := c.out
	if o.quiet {
		out = io.Discard
	}
	if err := c.display(out).run(ctx, body); err != nil {
		return err
	}
	fmt.Fprintln(c.out, ref.String())
	return nil
}

type pushOptions struct {
	all      bool
	quiet    bool
	platform string
	trust    bool
}

func (c *cli) pushCommand() *cobra.Command {
	var o pushOptions
	cmd := &cobra.Command{
		Use:         "push [OPTIONS] NAME[:TAG]",
		Short:       "Upload an image to a registry",
		Args:        exactArgs(1),
		Annotations: map[string]string{"aliases": "corral image push, corral push"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.push(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all-tags", "a", false, "Push all tags of an image to the repository")
	f.BoolVar(&o.trust, "disable-content-trust", true, "Skip image signing")
	f.StringVar(&o.platform, "platform", "", "Push a platform-specific manifest as a single-platform image to the registry.\n"+
		"'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}

func (c *cli) push(ctx context.Context, remote string, o pushOptions) error {
	ref, err := reference.ParseNormalizedNamed(remote)
	switch {
	case err != nil:
		return err
	case o.all && !reference.IsNameOnly(ref):
		return errors.New("tag can't be used with --all-tags/-a")
	case o.all:
		return errors.New("pushing all tags (--all-tags) is not supported")
	case reference.IsNameOnly(ref):
		ref = reference.TagNameOnly(ref)
		if t, ok := ref.(reference.Tagged); ok && !o.quiet {
			fmt.Fprintln(c.out, "Using default tag:", t.Tag())
		}
	}
	opts := api.ImagePushOptions{}
	if o.platform != "" {
		p, err := parsePlatform(o.platform)
		if err != nil {
			return err
		}
		opts.Platform = &p
	}
	if opts.RegistryAuth, err = c.encodedAuth(ref); err != nil {
		return err
	}
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	body, err := client.ImagePush(ctx, reference.FamiliarString(ref), opts)
	if err != nil {
		return err
	}
	defer body.Close()
	if o.quiet {
		if err := c.display(io.Discard).run(ctx, body); err != nil {
			return err
		}
		fmt.Fprintln(c.out, ref.String())
		return nil
	}
	return c.display(c.out).run(ctx, body)
}

// authConfig returns the stored credentials for ref's registry (empty when
// there are none).
func (c *cli) authConfig(ref reference.Named) (registry.AuthConfig, error) {
	domain := reference.Domain(ref)
	auth := registry.AuthConfig{ServerAddress: domain}
	if domain == "docker.io" {
		auth.ServerAddress = dockerHubServer
	}
	creds, err := c.credentials()
	if err != nil {
		return auth, err
	}
	auth.Username, auth.Password, err = creds.Credentials(domain)
	return auth, err
}

// encodedAuth is the X-Registry-Auth value for ref: base64url of the JSON
// AuthConfig, "e30=" ({}) with no credentials, as docker sends.
func (c *cli) encodedAuth(ref reference.Named) (string, error) {
	auth, err := c.authConfig(ref)
	if err != nil {
		return "", err
	}
	if auth.Username == "" && auth.Password == "" {
		auth = registry.AuthConfig{}
	}
	b, err := json.Marshal(auth)
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}
