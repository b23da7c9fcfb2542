package health

import "fmt"

// ActionLabel is the container label that says what to do when the
// container turns unhealthy (Docker's create API has no field for it;
// `corral run --health-on-failure` sets it). As podman's
// --health-on-failure.
const ActionLabel = "io.corral.health-on-failure"

// Action is what the daemon does when a container turns unhealthy.
type Action string

// The actions: nothing (the default), SIGKILL the container (a restart
// policy then applies), stop it with its stop signal and timeout, or stop
// it and start it again.
const (
	ActionNone    Action = "none"
	ActionKill    Action = "kill"
	ActionStop    Action = "stop"
	ActionRestart Action = "restart"
)

// ParseAction reads an action; "" is ActionNone.
func ParseAction(s string) (Action, error) {
	switch a := Action(s); a {
	case "":
		return ActionNone, nil
	case ActionNone, ActionKill, ActionStop, ActionRestart:
		return a, nil
	}
	return "", fmt.Errorf("invalid health-on-failure action %q: want none, kill, restart or stop", s)
}

// ActionOf is the action a container's labels ask for.
func ActionOf(labels map[string]string) (Action, error) {
	a, err := ParseAction(labels[ActionLabel])
	if err != nil {
		return "", fmt.Errorf("label %s: %w", ActionLabel, err)
	}
	return a, nil
}
