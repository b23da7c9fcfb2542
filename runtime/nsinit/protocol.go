// Package nsinit is the part of corral's runtime that runs inside the new
// namespaces, as `corral init`: it receives its configuration from the runtime
// over a sync socket, builds the container's filesystem (mounts, devices,
// pivot_root, masks), sets up the process (rlimits, user, capabilities,
// console) and finally execve()s the user program.
//
// It is security code: it imports almost nothing (x/sys, the OCI spec types,
// securejoin) and resolves every path inside the rootfs without following
// symlinks out of it.
package nsinit

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// EnvSyncFD names the environment variable that carries the file descriptor
// number of the sync socket shared with the runtime.
const EnvSyncFD = "_CORRAL_SYNCFD"

// Mode says what init is asked to do.
type Mode string

const (
	// ModeCreate sets up a new container and waits for `start`.
	ModeCreate Mode = "create"
	// ModeExec runs an extra process in an existing container, whose
	// namespaces were already joined by runtime/nsenter.
	ModeExec Mode = "exec"
)

// Config is the first message the runtime sends to init.
type Config struct {
	Mode Mode   `json:"mode"`
	ID   string `json:"id"`
	// Spec is the bundle's config with Root.Path made absolute (create), or the
	// container's config (exec, for the rootfs and no-pivot settings).
	Spec *specs.Spec `json:"spec"`
	// Process is the process to run; for create it equals Spec.Process.
	Process *specs.Process `json:"process"`
	// Rootfs is the absolute host path of the root filesystem.
	Rootfs  string `json:"rootfs"`
	NoPivot bool   `json:"noPivot,omitempty"`
	// ConsoleFD, when non-zero, is a connected unix socket: init opens a pty
	// inside the container, sends the master over it (SCM_RIGHTS) and uses the
	// slave as the process's stdio and controlling terminal.
	ConsoleFD int `json:"consoleFd,omitempty"`
	// FifoFD, when non-zero (create), is the read end of the exec fifo; init
	// blocks on reading one byte from it before running startContainer hooks
	// and execve. FifoWriteFD keeps the fifo from reporting EOF meanwhile.
	FifoFD      int `json:"fifoFd,omitempty"`
	FifoWriteFD int `json:"fifoWriteFd,omitempty"`
	// DoneFD, when non-zero (create), is the write end of the done fifo:
	// init writes an error there if it fails after start, and it closes at
	// execve, which is when `start` returns.
	DoneFD int `json:"doneFd,omitempty"`
	// PreserveFDs is how many descriptors from 3 up the process keeps.
	PreserveFDs int `json:"preserveFds,omitempty"`
	// NewCgroupNS asks init to unshare a cgroup namespace; the runtime has
	// already placed init in the container's cgroup.
	NewCgroupNS bool `json:"newCgroupNs,omitempty"`
	// State is the OCI state of the container (with the host pid of init),
	// given on stdin to createContainer and startContainer hooks.
	State *specs.State `json:"state,omitempty"`
	// MountSources (create, in a user namespace) lists the indexes into
	// Spec.Mounts of the bind mounts whose sources the runtime opens for
	// init: init's mapped root may be unable to reach them. Init asks for
	// them with MsgMountSources before it mounts anything.
	MountSources []int `json:"mountSources,omitempty"`
	// Seccomp, when set (create), is linux.seccomp as the runtime compiled
	// it to check the config (seccomp.Program.Encode): init loads it as is,
	// and Spec.Linux.Seccomp is then left out. Otherwise init compiles
	// Spec.Linux.Seccomp itself.
	Seccomp []byte `json:"seccomp,omitempty"`
	// CgroupMounts, when set (create), are the lines of the runtime's
	// /proc/self/mountinfo that describe cgroup mounts. Init's mount
	// namespace starts as a copy of the runtime's, so it uses them to mount
	// the v1 hierarchies instead of reading its own whole mount table.
	CgroupMounts string `json:"cgroupMounts,omitempty"`
}

// MsgType names a message on the sync socket.
type MsgType string

const (
	// MsgCreateRuntime (init → runtime): the namespaces and mounts exist; run
	// the prestart and createRuntime hooks, then answer MsgContinue.
	MsgCreateRuntime MsgType = "createRuntime"
	// MsgContinue (runtime → init): go on.
	MsgContinue MsgType = "continue"
	// MsgReady (init → runtime): setup done; create: now blocked on the fifo,
	// exec: about to execve.
	MsgReady MsgType = "ready"
	// MsgError (init → runtime): setup failed; Error says why. Init exits.
	MsgError MsgType = "error"
	// MsgSeccompListener (init → runtime): init installed a seccomp filter
	// with a notify listener. After the runtime answers MsgContinue, init
	// sends one byte carrying the listener (SCM_RIGHTS); the runtime hands it
	// to linux.seccomp.listenerPath and answers MsgContinue again.
	MsgSeccompListener MsgType = "seccompListener"
	// MsgWarning (init → runtime): something the config asked for was not
	// done, and why (in Error); setup goes on.
	MsgWarning MsgType = "warning"
	// MsgMountSources (init → runtime): send the sources of
	// Config.MountSources. For each, in order, the runtime sends one byte:
	// 1 with an O_PATH descriptor of the source attached (SCM_RIGHTS),
	// opened with its own credentials in init's mount namespace before any
	// container mount exists; 0 without one, when it could not open it
	// (init then mounts from the path). Nothing else follows.
	MsgMountSources MsgType = "mountSources"
)

// Msg is every message after Config, one JSON object per line.
type Msg struct {
	Type  MsgType `json:"type"`
	Error string  `json:"error,omitempty"`
}
