package container

import (
	"fmt"

	"github.com/corral-dev/corral/errdefs"
)

// Op is a verb the daemon may apply to a container; State.Check says
// whether the container's state allows it.
type Op string

// The verbs whose refusals depend on the state.
const (
	OpStart       Op = "start"
	OpStop        Op = "stop"
	OpKill        Op = "kill"
	OpRestart     Op = "restart"
	OpPause       Op = "pause"
	OpUnpause     Op = "unpause"
	OpRemove      Op = "remove"       // rm without -f
	OpForceRemove Op = "force-remove" // rm -f
	OpExec        Op = "exec"
	OpAttach      Op = "attach"
	OpTop         Op = "top"
	OpResize      Op = "resize"
	OpUpdate      Op = "update"
	OpCommit      Op = "commit"
	OpExport      Op = "export"
)

// checks holds each verb's rule; a verb not listed is always allowed.
var checks = map[Op]func(s *State, id string) error{
	OpStart:       checkStart,
	OpStop:        checkStop,
	OpKill:        checkRunning,
	OpRestart:     checkRestart,
	OpPause:       checkPause,
	OpUnpause:     checkUnpause,
	OpRemove:      checkRemove,
	OpForceRemove: checkForceRemove,
	OpExec:        checkExec,
	OpAttach:      checkAttach,
	OpTop:         checkTop,
	OpResize:      checkRunning,
	OpUpdate:      checkUpdate,
	OpCommit:      func(s *State, id string) error { return checkKeep(s, id, "commit") },
	OpExport:      func(s *State, id string) error { return checkKeep(s, id, "export") },
}

// Check reports whether op may begin on a container (ID id) in state s. A
// refusal is dockerd's error for it, with its class: NotModified for a start
// of a started or a stop of a stopped container (HTTP 304), Conflict for the
// rest.
func (s *State) Check(op Op, id string) error {
	if check, ok := checks[op]; ok {
		return check(s, id)
	}
	return nil
}

func checkStart(s *State, _ string) error {
	switch {
	case s.Paused:
		return errdefs.Conflict(fmt.Errorf("cannot start a paused container, try unpause instead"))
	case s.Running:
		return notModified("Container is already started")
	case s.Removing || s.Dead:
		return errdefs.Conflict(errMarkedForRemoval)
	}
	return nil
}

func checkStop(s *State, _ string) error {
	if !s.Running {
		return notModified("Container is already stopped")
	}
	return nil
}

func checkRunning(s *State, id string) error {
	if !s.Running {
		return errNotRunning(id)
	}
	return nil
}

func checkRestart(s *State, id string) error {
	if s.Removing || s.Dead {
		//lint:ignore ST1005 dockerd's wording.
		return errdefs.Conflict(fmt.Errorf("Cannot restart container %s: %w", id, errMarkedForRemoval))
	}
	return nil
}

func checkPause(s *State, id string) error {
	switch {
	case !s.Running:
		return errNotRunning(id)
	case s.Paused:
		return errdefs.Conflict(fmt.Errorf("Container %s is already paused", id))
	case s.Restarting:
		return errRestarting(id)
	}
	return nil
}

func checkUnpause(s *State, id string) error {
	if !s.Paused {
		return errdefs.Conflict(fmt.Errorf("Container %s is not paused", id))
	}
	return nil
}

func checkRemove(s *State, id string) error {
	if s.Running {
		procedure := "Stop the container before attempting removal or force remove"
		if s.Paused {
			procedure = "Unpause and then stop the container before attempting removal or force remove"
		}
		//lint:ignore ST1005 dockerd's wording.
		return errdefs.Conflict(fmt.Errorf("You cannot remove a %s container %s. %s", s.Status(), id, procedure))
	}
	return checkForceRemove(s, id)
}

func checkForceRemove(s *State, id string) error {
	if s.Removing {
		return errdefs.Conflict(fmt.Errorf("removal of container %s is already in progress", id))
	}
	return nil
}

func checkExec(s *State, id string) error {
	switch {
	case !s.Running:
		return errNotRunning(id)
	case s.Paused:
		return errdefs.Conflict(fmt.Errorf("Container %s is paused, unpause the container before exec", id))
	case s.Restarting:
		return errRestarting(id)
	}
	return nil
}

// checkAttach allows a created or stopped container: the CLI attaches before
// it starts one.
func checkAttach(s *State, id string) error {
	switch {
	case s.Paused:
		return errdefs.Conflict(fmt.Errorf("container %s is paused, unpause the container before attach", id))
	case s.Restarting:
		return errdefs.Conflict(fmt.Errorf("container %s is restarting, wait until the container is running", id))
	}
	return nil
}

func checkTop(s *State, id string) error {
	if err := checkRunning(s, id); err != nil {
		return err
	}
	if s.Restarting {
		return errRestarting(id)
	}
	return nil
}

func checkUpdate(s *State, id string) error {
	if s.Removing || s.Dead {
		//lint:ignore ST1005 dockerd's wording.
		return errdefs.Conflict(fmt.Errorf("Cannot update container %s: container is marked for removal and cannot be \"update\"", id))
	}
	return nil
}

// checkKeep refuses to commit or export a container that is going away.
func checkKeep(s *State, id, verb string) error {
	switch {
	case s.Dead:
		//lint:ignore ST1005 dockerd's wording.
		return errdefs.Conflict(fmt.Errorf("You cannot %s container %s which is Dead", verb, id))
	case s.Removing:
		//lint:ignore ST1005 dockerd's wording.
		return errdefs.Conflict(fmt.Errorf("You cannot %s container %s which is being removed", verb, id))
	}
	return nil
}
