package runcli

import (
	"os/signal"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func eventsCmd(g *globals) *cobra.Command {
	var stats bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "events [flags] <container-id>",
		Short: "print a container's OOM events and resource statistics as JSON lines",
		Long: `Print the container's events, one JSON object a line as runc does:
{"type":"stats","id":...,"data":{...}} every --interval, and
{"type":"oom","id":...} whenever the kernel reports an out-of-memory event,
until the container stops or a SIGINT or SIGTERM arrives. With --stats,
print one stats event and exit.`,
		Args: oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), unix.SIGINT, unix.SIGTERM)
			defer stop()
			return rt.Events(ctx, args[0], stats, interval, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&stats, "stats", false, "print the statistics once and exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "how often to print statistics")
	return cmd
}
