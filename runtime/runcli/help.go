package runcli

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"sync"

	"github.com/spf13/cobra"
)

// helpTemplate lays help out as runc's (urfave/cli) does, NAME first, since
// tools and tests that drive runc read it.
const helpTemplate = `NAME:
   {{.CommandPath}} - {{.Short}}

USAGE:
   {{.UseLine}}{{if .HasAvailableSubCommands}}

COMMANDS:{{range .Commands}}{{if .IsAvailableCommand}}
   {{rpad .Name .NamePadding}} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

OPTIONS:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

GLOBAL OPTIONS:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}
`

// unsupportedCmd answers commands runc has and corral does not, so that
// their help works and using them says why it cannot.
func unsupportedCmd(name, short, why string) *cobra.Command {
	return &cobra.Command{
		Use:                name + " [flags] <container-id>",
		Short:              short,
		DisableFlagParsing: false,
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
		RunE: func(*cobra.Command, []string) error {
			return fmt.Errorf("%s is not supported: %s", name, why)
		},
	}
}

// unknownCommand is compiled on first use, not at every start-up.
var unknownCommand = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^unknown command "([^"]*)"`)
})

// helpTopicError turns "unknown command" for a help request into runc's
// answer; ok is false for any other error.
func helpTopicError(err error, args []string, w io.Writer) bool {
	m := unknownCommand().FindStringSubmatch(err.Error())
	if m == nil || !(slices.Contains(args, "-h") || slices.Contains(args, "--help")) {
		return false
	}
	fmt.Fprintf(w, "No help topic for '%s'\n", m[1])
	return true
}
