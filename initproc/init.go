// Package initproc is corral's minimal init, the PID 1 of a container run
// with --init (cmd/corral-init; the engine bind-mounts it read-only at
// /sbin/corral-init and runs "corral-init -- ENTRYPOINT..."), in the manner
// of tini and docker-init.
//
// It starts the command as its only child, in a process group of its own
// that gets the terminal when the init holds it; forwards every signal it
// receives to that child (or with -g to its process group); reaps every
// process that exits under it, orphans included, with wait4(-1) after each
// signal (SIGCHLD above all); and exits with the child's status, 128+N when signal N killed
// it. Because it installs a handler for every catchable signal, a SIGTERM
// sent to a container's PID 1 (which the kernel drops for a PID 1 without
// a handler) stops the container on the first try. When it is not PID 1 it
// makes itself a child subreaper, so that orphans of the command are still
// reparented to it and reaped.
//
// Signals not forwarded: SIGCHLD (it is the reaping cue), SIGURG (the Go
// runtime sends it to itself to preempt goroutines, so a received one may
// be ours), SIGTTIN and SIGTTOU (as tini), and 32 to 34, which the Go
// runtime reserves for the C library (as PID 1 the kernel drops them).
//
// The package imports nothing from the module and nothing outside the
// standard library, and keeps off fmt, so that the static binary stays
// small.
package initproc

import (
	"os"
	"os/signal"
	"syscall"
)

// Exit codes of the init itself, besides the child's and the 126/127 of
// ExecError.
const (
	// ExitUsage: the command line is wrong.
	ExitUsage = 2
	// ExitFailure: the init could not set itself up.
	ExitFailure = 1
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER of prctl(2).
const prSetChildSubreaper = 36

// Main runs the init with the arguments after the program name and returns
// its exit code: the child's (see the package comment), ExecError.Code when
// the command cannot be started, ExitUsage or ExitFailure.
func Main(args []string) int {
	opts, err := ParseArgs(args)
	if err != nil {
		warn(err.Error() + "\n" + UsageLine)
		return ExitUsage
	}
	if opts.Help {
		_, _ = os.Stdout.WriteString(Usage)
		return 0
	}
	if os.Getpid() != 1 {
		if err := setSubreaper(); err != nil {
			warn("set child subreaper: " + err.Error())
			return ExitFailure
		}
	}
	// Every signal is caught before the fork: none is missed, and none
	// (SIGTERM, SIGINT...) keeps its default action of ending the init.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	pid, failed := spawn(opts.Command, syscall.Environ())
	if failed != nil {
		warn(failed.Error())
		return failed.Code
	}
	return opts.exitCode(supervise(pid, sigs, opts.KillGroup))
}

// supervise forwards signals to the child pid and reaps until the child has
// exited, and returns the child's exit code. It reaps after every signal,
// not only SIGCHLD: os/signal drops a signal that finds the channel full,
// and a dropped SIGCHLD must not leave the init waiting forever; the
// signals that filled the channel come next, and each one reaps.
func supervise(pid int, sigs <-chan os.Signal, group bool) int {
	for sig := range sigs {
		if s, _ := sig.(syscall.Signal); forwarded(s) {
			forward(pid, s, group)
		}
		if status, exited := reap(pid); exited {
			return exitCode(status)
		}
	}
	return ExitFailure // not reached: sigs is never closed
}

// forwarded reports whether signal s goes to the child (see the package
// comment for those that do not).
func forwarded(s syscall.Signal) bool {
	switch s {
	case syscall.SIGCHLD, syscall.SIGURG, syscall.SIGTTIN, syscall.SIGTTOU:
		return false
	}
	return s > 0
}

// forward sends s to the child, or to its process group. The group may be
// gone while the child lives (it may have moved to another group); then the
// child alone gets the signal.
func forward(pid int, s syscall.Signal, group bool) {
	if group && syscall.Kill(-pid, s) != syscall.ESRCH {
		return
	}
	_ = syscall.Kill(pid, s)
}

// reap collects, without blocking, every child that has exited: the
// command and any orphan that was reparented to the init. It reports the
// command's wait status when the command was among them.
func reap(pid int) (status syscall.WaitStatus, exited bool) {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || got <= 0 {
			return status, exited
		}
		if got == pid {
			status, exited = ws, true
		}
	}
}

// exitCode is the shell's convention for a wait status: the exit code, or
// 128+N for a death by signal N.
func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func setSubreaper() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return errno
	}
	return nil
}

func warn(msg string) {
	_, _ = os.Stderr.WriteString("corral-init: " + msg + "\n")
}
