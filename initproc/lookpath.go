package initproc

import (
	"strings"
	"syscall"
)

// DefaultPath is searched when the environment has no PATH, as runc and
// Docker do for a container.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ExecError is a failure to start the command; Code is the exit status the
// init reports for it: 127 when the program is not found, 126 when it is
// found but cannot be executed, as shells and Docker do.
type ExecError struct {
	Name string
	Err  error
	Code int
}

func (e *ExecError) Error() string {
	return "exec " + e.Name + ": " + e.Err.Error()
}

func (e *ExecError) Unwrap() error { return e.Err }

// errNotInPath is the cause when no directory of PATH holds the program.
var errNotInPath = stringError("executable file not found in $PATH")

type stringError string

func (e stringError) Error() string { return string(e) }

// execError classifies err from execve (or the lookup) of name.
func execError(name string, err error) *ExecError {
	code := 126
	if err == syscall.ENOENT || err == syscall.ENOTDIR || err == errNotInPath {
		code = 127
	}
	return &ExecError{Name: name, Err: err, Code: code}
}

// lookPath finds file the way execvp does: a name with a slash is used as
// it is; otherwise each directory of path in turn (an empty entry is the
// current directory) and the first regular file there that we may execute.
// When the program exists only without execute permission the error is
// EACCES (126), when it exists nowhere errNotInPath (127).
func lookPath(file, path string) (string, error) {
	if strings.IndexByte(file, '/') >= 0 {
		return file, nil
	}
	denied := false
	for dir := range strings.SplitSeq(path, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		switch err := executable(p); err {
		case nil:
			return p, nil
		case syscall.EACCES:
			denied = true
		}
	}
	if denied {
		return "", syscall.EACCES
	}
	return "", errNotInPath
}

// executable reports whether p is a regular file that the effective user
// may execute: nil, EACCES when it is not, ENOENT when there is none.
func executable(p string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return syscall.ENOENT
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return syscall.EACCES
	}
	if err := syscall.Faccessat(atFDCWD, p, xOK, atEACCESS); err != nil {
		return syscall.EACCES
	}
	return nil
}

// Constants of faccessat(2) that package syscall does not name on Linux.
const (
	atFDCWD   = -0x64
	xOK       = 0x1
	atEACCESS = 0x200
)
