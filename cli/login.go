package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/moby/moby/api/types/registry"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type loginOptions struct {
	server, user, password string
	passwordStdin          bool
}

func (c *cli) loginCommand() *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Authenticate to a registry",
		Long:  "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				o.server = args[0]
			}
			if err := checkLoginFlags(cmd, o); err != nil {
				return err
			}
			return c.login(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.user, "username", "u", "", "Username")
	f.StringVarP(&o.password, "password", "p", "", "Password or Personal Access Token (PAT)")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

func checkLoginFlags(cmd *cobra.Command, o loginOptions) error {
	f := cmd.Flags()
	if f.Changed("password-stdin") {
		if f.Changed("password") {
			return errors.New("conflicting options: cannot specify both --password and --password-stdin")
		}
		if !f.Changed("username") {
			return errors.New("the --password-stdin option requires --username to be set")
		}
	}
	if f.Changed("username") && o.user == "" {
		return errors.New("username is empty")
	}
	if f.Changed("password") && o.password == "" {
		return errors.New("password is empty")
	}
	return nil
}

// serverHost names a registry as docker's credentials do: Docker Hub's
// index URL for no server or docker.io, else the host[:port] of a URL.
func serverHost(server string) (address, host string) {
	if server == "" || server == "docker.io" || server == "index.docker.io" || server == dockerHubServer {
		return dockerHubServer, "docker.io"
	}
	host = server
	if strings.Contains(server, "://") {
		if u, err := url.Parse(server); err == nil && u.Hostname() != "" {
			host = u.Hostname()
			if u.Port() != "" {
				host = net.JoinHostPort(u.Hostname(), u.Port())
			}
		}
	} else {
		host, _, _ = strings.Cut(server, "/")
	}
	return host, host
}

func (c *cli) login(ctx context.Context, o loginOptions) error {
	if o.password != "" {
		fmt.Fprintln(c.err, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
	}
	if o.passwordStdin {
		b, err := io.ReadAll(c.in)
		if err != nil {
			return err
		}
		o.password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	address, host := serverHost(o.server)
	creds, err := c.credentials()
	if err != nil {
		return err
	}
	if o.user == "" && o.password == "" {
		if user, secret, err := creds.Credentials(host); err == nil && user != "" && secret != "" {
			return c.loginStored(ctx, creds, registry.AuthConfig{Username: user, Password: secret, ServerAddress: address}, host)
		}
	}
	auth, err := c.promptCredentials(o, address)
	if err != nil {
		return err
	}
	return c.loginWith(ctx, creds, auth, host)
}

// loginStored checks the stored credentials again, as docker does when
// login is given none.
func (c *cli) loginStored(ctx context.Context, creds Credentials, auth registry.AuthConfig, host string) error {
	fmt.Fprintf(c.err, "Authenticating with existing credentials... [Username: %s]\n", auth.Username)
	fmt.Fprintf(c.err, "\n Info -> To login with a different account, run 'corral logout' followed by 'corral login'\n\n\n")
	return c.loginWith(ctx, creds, auth, host)
}

func (c *cli) loginWith(ctx context.Context, creds Credentials, auth registry.AuthConfig, host string) error {
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	resp, err := client.RegistryLogin(ctx, auth)
	if err != nil {
		return err
	}
	creds.Set(host, auth.Username, auth.Password)
	if err := creds.Save(); err != nil {
		return fmt.Errorf("Error saving credentials: %w", err)
	}
	fmt.Fprintf(c.err, "\nWARNING! Your credentials are stored unencrypted in '%s'.\n\n", creds.Path())
	if resp.Status != "" {
		fmt.Fprintln(c.out, resp.Status)
	}
	return nil
}

// promptCredentials asks for what the flags did not give, on a terminal.
func (c *cli) promptCredentials(o loginOptions, address string) (registry.AuthConfig, error) {
	auth := registry.AuthConfig{Username: strings.TrimSpace(o.user), Password: o.password, ServerAddress: address}
	if auth.Username != "" && auth.Password != "" {
		return auth, nil
	}
	stdin, ok := c.stdinFile()
	if !ok {
		return auth, errors.New("Error: Cannot perform an interactive login from a non TTY device")
	}
	if auth.Username == "" {
		fmt.Fprint(c.out, "Username: ")
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return auth, err
		}
		if auth.Username = strings.TrimSpace(line); auth.Username == "" {
			return auth, errors.New("Error: Non-null Username Required")
		}
	}
	if auth.Password == "" {
		fmt.Fprint(c.out, "Password: ")
		b, err := term.ReadPassword(int(stdin.Fd()))
		fmt.Fprintln(c.out)
		if err != nil {
			return auth, err
		}
		if auth.Password = string(b); auth.Password == "" {
			return auth, errors.New("Error: Password Required")
		}
	}
	return auth, nil
}

func (c *cli) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Long:  "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
		Args:  maxArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			server := ""
			if len(args) > 0 {
				server = args[0]
			}
			return c.logout(server)
		},
	}
}

func (c *cli) logout(server string) error {
	address, host := serverHost(server)
	creds, err := c.credentials()
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, "Removing login credentials for", address)
	if creds.Remove(host) {
		if err := creds.Save(); err != nil {
			fmt.Fprintln(c.err, "WARNING: could not erase credentials:")
			fmt.Fprintf(c.err, "%s: %s\n", address, err)
		}
	}
	return nil
}
