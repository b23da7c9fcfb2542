package initproc

import (
	"syscall"
	"unsafe"
)

// shell runs a program that execve refuses as ENOEXEC (a script without
// "#!"), as execvp does.
const shell = "/bin/sh"

// spawn starts argv as the child: in a process group of its own, which it
// gets the terminal's foreground of when stdin is our controlling terminal
// and we are in the foreground, with our environment, stdio and every
// inherited descriptor that is not close-on-exec. Between fork and execve
// the Go runtime resets every handler it installed to SIG_DFL (so the child
// starts with default actions, even for a signal that was ignored when the
// init started) and restores the signal mask the init was started with, as
// tini does. It returns an *ExecError, never
// another error, so that the caller has the exit code at hand.
func spawn(argv []string, env []string) (int, *ExecError) {
	path, err := lookPath(argv[0], pathOf(env))
	if err != nil {
		return 0, execError(argv[0], err)
	}
	attr := &syscall.ProcAttr{
		Env:   env,
		Files: stdio(),
		Sys:   &syscall.SysProcAttr{Setpgid: true, Foreground: inForeground(), Ctty: 0},
	}
	pid, err := syscall.ForkExec(path, argv, attr)
	if err == syscall.ENOEXEC {
		args := append([]string{shell, path}, argv[1:]...)
		if pid, err = syscall.ForkExec(shell, args, attr); err != nil {
			err = syscall.ENOEXEC // the program's fault, not the shell's
		}
	}
	if err != nil {
		return 0, execError(argv[0], err)
	}
	return pid, nil
}

// pathOf returns PATH from env, or DefaultPath when there is none.
func pathOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if len(env[i]) >= 5 && env[i][:5] == "PATH=" {
			return env[i][5:]
		}
	}
	return DefaultPath
}

// stdio returns descriptors 0, 1 and 2 for the child, each one that is not
// open here marked closed (-1) so that the fork does not fail on it.
func stdio() []uintptr {
	files := []uintptr{0, 1, 2}
	for fd := range files {
		if _, err := fcntl(fd, syscall.F_GETFD); err == syscall.EBADF {
			files[fd] = ^uintptr(0)
		}
	}
	return files
}

func fcntl(fd, cmd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// inForeground reports whether stdin is our controlling terminal and our
// process group is its foreground one: only then does the child get the
// terminal (so that ^C reaches it, and only it). A terminal we do not hold
// in the foreground is not ours to give.
func inForeground() bool {
	var pgrp int32
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, 0, syscall.TIOCGPGRP, uintptr(unsafe.Pointer(&pgrp)))
	return errno == 0 && int(pgrp) == syscall.Getpgrp()
}
