package container

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/errdefs"
)

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// states builds one State of each status.
func states() map[string]State {
	var created, running, paused, restarting, exited, removing, dead State
	running.SetRunning(42, t0)
	paused = running
	paused.SetPaused()
	restarting = running
	restarting.SetRestarting(Exit{Code: 1, At: t0.Add(time.Second)})
	exited = running
	exited.SetStopped(Exit{Code: 3, At: t0.Add(time.Minute)})
	removing = exited
	if err := removing.SetRemoving(testID); err != nil {
		panic(err)
	}
	dead = exited
	dead.SetDead()
	return map[string]State{
		"created": created, "running": running, "paused": paused,
		"restarting": restarting, "exited": exited, "removing": removing, "dead": dead,
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	for name, st := range states() {
		if got := st.Status(); string(got) != name {
			t.Errorf("Status() of the %s state = %q", name, got)
		}
		if err := container.ValidateContainerState(st.Status()); err != nil {
			t.Error(err)
		}
	}
}

// Expected refusals: "C:" Conflict, "N:" NotModified, then the message
// with ID for the container's ID; a state not listed is allowed.
var checkTable = map[Op]map[string]string{
	OpStart: {
		"running":    "N:Container is already started",
		"restarting": "N:Container is already started",
		"paused":     "C:cannot start a paused container, try unpause instead",
		"removing":   "C:container is marked for removal and cannot be started",
		"dead":       "C:container is marked for removal and cannot be started",
	},
	OpStop: {
		"created": "N:Container is already stopped", "exited": "N:Container is already stopped",
		"removing": "N:Container is already stopped", "dead": "N:Container is already stopped",
	},
	OpKill: {
		"created": "C:Container ID is not running", "exited": "C:Container ID is not running",
		"removing": "C:Container ID is not running", "dead": "C:Container ID is not running",
	},
	OpRestart: {
		"removing": "C:Cannot restart container ID: container is marked for removal and cannot be started",
		"dead":     "C:Cannot restart container ID: container is marked for removal and cannot be started",
	},
	OpPause: {
		"created": "C:Container ID is not running", "exited": "C:Container ID is not running",
		"removing": "C:Container ID is not running", "dead": "C:Container ID is not running",
		"paused":     "C:Container ID is already paused",
		"restarting": "C:Container ID is restarting, wait until the container is running",
	},
	OpUnpause: {
		"created": "C:Container ID is not paused", "running": "C:Container ID is not paused",
		"restarting": "C:Container ID is not paused", "exited": "C:Container ID is not paused",
		"removing": "C:Container ID is not paused", "dead": "C:Container ID is not paused",
	},
	OpRemove: {
		"running":    "C:You cannot remove a running container ID. Stop the container before attempting removal or force remove",
		"restarting": "C:You cannot remove a restarting container ID. Stop the container before attempting removal or force remove",
		"paused":     "C:You cannot remove a paused container ID. Unpause and then stop the container before attempting removal or force remove",
		"removing":   "C:removal of container ID is already in progress",
	},
	OpForceRemove: {"removing": "C:removal of container ID is already in progress"},
	OpExec: {
		"created": "C:Container ID is not running", "exited": "C:Container ID is not running",
		"removing": "C:Container ID is not running", "dead": "C:Container ID is not running",
		"paused":     "C:Container ID is paused, unpause the container before exec",
		"restarting": "C:Container ID is restarting, wait until the container is running",
	},
	OpAttach: {
		"paused":     "C:container ID is paused, unpause the container before attach",
		"restarting": "C:container ID is restarting, wait until the container is running",
	},
	OpTop: {
		"created": "C:Container ID is not running", "exited": "C:Container ID is not running",
		"removing": "C:Container ID is not running", "dead": "C:Container ID is not running",
		"restarting": "C:Container ID is restarting, wait until the container is running",
	},
	OpResize: {
		"created": "C:Container ID is not running", "exited": "C:Container ID is not running",
		"removing": "C:Container ID is not running", "dead": "C:Container ID is not running",
	},
	OpUpdate: {
		"removing": `C:Cannot update container ID: container is marked for removal and cannot be "update"`,
		"dead":     `C:Cannot update container ID: container is marked for removal and cannot be "update"`,
	},
	OpCommit: {
		"removing": "C:You cannot commit container ID which is being removed",
		"dead":     "C:You cannot commit container ID which is Dead",
	},
	OpExport: {
		"removing": "C:You cannot export container ID which is being removed",
		"dead":     "C:You cannot export container ID which is Dead",
	},
}

func TestCheck(t *testing.T) {
	t.Parallel()
	sts := states()
	for op, refusals := range checkTable {
		for name, st := range sts {
			err := st.Check(op, testID)
			want := strings.ReplaceAll(refusals[name], "ID", testID)
			if want == "" {
				if err != nil {
					t.Errorf("%s on a %s container: %v, want allowed", op, name, err)
				}
				continue
			}
			class := map[byte]error{'C': errdefs.ErrConflict, 'N': errdefs.ErrNotModified}[want[0]]
			if err == nil || !errors.Is(err, class) || err.Error() != want[2:] {
				t.Errorf("%s on a %s container: %v, want %v %q", op, name, err, class, want[2:])
			}
		}
	}
	running := sts["running"]
	if err := running.Check(Op("wait"), testID); err != nil {
		t.Errorf("an unlisted verb is refused: %v", err)
	}
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	var s State
	step := func(what string, want container.ContainerState) {
		t.Helper()
		if got := s.Status(); got != want {
			t.Fatalf("after %s: status %q, want %q (%+v)", what, got, want, s)
		}
	}
	step("create", container.StateCreated)
	s.SetStartFailed(127, errors.New("exec: \"nope\": executable file not found in $PATH"))
	step("a failed start", container.StateCreated)
	if s.ExitCode != 127 || !strings.Contains(s.Error, "not found") {
		t.Fatalf("failed start: %+v", s)
	}
	s.SetRunning(100, t0)
	step("start", container.StateRunning)
	if s.Pid != 100 || s.ExitCode != 0 || s.Error != "" || !s.StartedAt.Equal(t0) {
		t.Fatalf("start: %+v", s)
	}
	s.SetPaused()
	step("pause", container.StatePaused)
	s.SetUnpaused()
	step("unpause", container.StateRunning)
	s.SetRestarting(Exit{Code: 2, OOMKilled: true, At: t0.Add(time.Second)})
	step("exit with a restart", container.StateRestarting)
	if s.Pid != 0 || !s.Running || s.ExitCode != 2 || !s.OOMKilled {
		t.Fatalf("restarting: %+v", s)
	}
	s.SetRunning(101, t0.Add(2*time.Second))
	step("restart", container.StateRunning)
	if s.Restarting || s.OOMKilled {
		t.Fatalf("restarted: %+v", s)
	}
	s.SetStopped(Exit{Code: 137, At: t0.Add(time.Minute)})
	step("exit", container.StateExited)
	if s.Pid != 0 || s.ExitCode != 137 || !s.FinishedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("exited: %+v", s)
	}
	if err := s.SetRemoving(testID); err != nil {
		t.Fatal(err)
	}
	step("rm", container.StateRemoving)
	if err := s.SetRemoving(testID); !errdefs.IsConflict(err) {
		t.Fatalf("a second rm: %v, want Conflict", err)
	}
	s.ResetRemoving()
	step("a failed rm", container.StateExited)
	s.SetDead()
	step("a rm that failed half-way", container.StateDead)
}

func TestHealthStatus(t *testing.T) {
	t.Parallel()
	var s State
	if s.HealthStatus() != container.NoHealthcheck {
		t.Errorf("no health check: %q", s.HealthStatus())
	}
	s.Health = &container.Health{Status: container.Unhealthy}
	if s.HealthStatus() != container.Unhealthy {
		t.Errorf("unhealthy: %q", s.HealthStatus())
	}
}
