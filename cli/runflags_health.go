package cli

import (
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/pflag"
)

// healthOnFailureLabel carries --health-on-failure to the daemon: Docker's
// create API has no field for it, so it travels as a reserved label (the
// daemon's health package reads and checks it).
const healthOnFailureLabel = "io.corral.health-on-failure"

// addHealthOnFailureFlag binds podman's --health-on-failure.
func addHealthOnFailureFlag(fs *pflag.FlagSet, f *containerFlags) {
	fs.StringVar(&f.healthOnFailure, "health-on-failure", "",
		"Action to take once the container turns unhealthy (none|kill|restart|stop) (default none)")
}

// applyHealthOnFailure sets the label of --health-on-failure on c.
func (f *containerFlags) applyHealthOnFailure(c *container.Config) error {
	switch f.healthOnFailure {
	case "":
		return nil
	case "none", "kill", "restart", "stop":
	default:
		return fmt.Errorf("invalid argument %q for --health-on-failure: want none, kill, restart or stop", f.healthOnFailure)
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	c.Labels[healthOnFailureLabel] = f.healthOnFailure
	return nil
}
