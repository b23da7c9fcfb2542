//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command testprog is a small static program that corral's tests run inside
// containers to see what the container's process got. Subcommands:
//
//	info             one JSON object: ids, groups, umask, cwd, uname, env,
//	                 rlimits, capability sets, no_new_privs, oom_score_adj,
//	                 open fds, pid, ppid, namespace inodes, cgroups
//	fds              the open fds as a JSON array of {"fd", "target"}
//	sleep N          sleep N seconds (a decimal number)
//	exit N           exit with status N
//	pause            print "ready", then the name of each signal received;
//	                 exit 0 after SIGTERM or SIGINT
//	write PATH TEXT  write TEXT to PATH; on failure print the error to
//	                 stderr and exit 1
//	mknod PATH       create char device 1:3 at PATH; on failure print the
//	                 errno name (EPERM, ...) to stdout and exit 1
//
// Usage errors exit 2. Files are read with raw system calls, and the Go
// runtime is kept from reading cgroup limits, so that no descriptor of the
// program's own shows up in the fds lists.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Info is what `testprog info` prints.
type Info struct {
	UID         int               `json:"uid"`
	GID         int               `json:"gid"`
	EUID        int               `json:"euid"`
	EGID        int               `json:"egid"`
	Groups      []int             `json:"groups"`
	Umask       int               `json:"umask"`
	Cwd         string            `json:"cwd"`
	Hostname    string            `json:"hostname"`
	Domainname  string            `json:"domainname"`
	Env         []string          `json:"env"`
	Rlimits     map[string]Rlimit `json:"rlimits"`
	Caps        map[string]string `json:"caps"`
	NoNewPrivs  bool              `json:"no_new_privs"`
	Seccomp     string            `json:"seccomp"`
	OOMScoreAdj int               `json:"oom_score_adj"`
	FDs         []FD              `json:"fds"`
	Pid         int               `json:"pid"`
	Ppid        int               `json:"ppid"`
	Namespaces  map[string]uint64 `json:"namespaces"`
	Cgroups     []string          `json:"cgroups"`
}

// Rlimit is one resource limit; unlimited is 18446744073709551615.
type Rlimit struct {
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// FD is an open file descriptor and what /proc/self/fd says it points to.
type FD struct {
	FD     int    `json:"fd"`
	Target string `json:"target"`
}

var rlimitNames = []string{
	"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
	"RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
	"RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
	"RLIMIT_RTPRIO", "RLIMIT_RTTIME",
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "info":
		printJSON(info())
	case "fds":
		printJSON(openFDs())
	case "sleep":
		time.Sleep(time.Duration(number(args) * float64(time.Second)))
	case "exit":
		os.Exit(int(number(args)))
	case "pause":
		pause()
	case "write":
		write(args)
	case "mknod":
		mknod(args)
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: testprog info|fds|sleep N|exit N|pause|write PATH TEXT|mknod PATH")
	os.Exit(2)
}

func number(args []string) float64 {
	if len(args) != 1 {
		usage()
	}
	n, err := strconv.ParseFloat(args[0], 64)
	if err != nil {
		usage()
	}
	return n
}

func printJSON(v any) {
	if err := json.NewEncoder(os.Stdout).Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, "testprog:", err)
		os.Exit(1)
	}
}

func info() Info {
	groups, _ := unix.Getgroups()
	if groups == nil {
		groups = []int{}
	}
	umask := unix.Umask(0)
	unix.Umask(umask)
	cwd, _ := os.Getwd()
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	status, caps := procStatus()
	nnp, _ := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	oomAdj, _ := strconv.Atoi(strings.TrimSpace(readFile("/proc/self/oom_score_adj")))
	return Info{
		UID: os.Getuid(), GID: os.Getgid(), EUID: os.Geteuid(), EGID: os.Getegid(),
		Groups: groups, Umask: umask, Cwd: cwd,
		Hostname:    unix.ByteSliceToString(uts.Nodename[:]),
		Domainname:  unix.ByteSliceToString(uts.Domainname[:]),
		Env:         os.Environ(),
		Rlimits:     rlimits(),
		Caps:        caps,
		NoNewPrivs:  nnp == 1,
		Seccomp:     status["Seccomp"],
		OOMScoreAdj: oomAdj,
		FDs:         openFDs(),
		Pid:         os.Getpid(),
		Ppid:        os.Getppid(),
		Namespaces:  namespaces(),
		Cgroups:     strings.Fields(readFile("/proc/self/cgroup")),
	}
}

func rlimits() map[string]Rlimit {
	out := map[string]Rlimit{}
	for i, name := range rlimitNames {
		var rl unix.Rlimit
		if unix.Getrlimit(i, &rl) == nil {
			out[name] = Rlimit{Soft: rl.Cur, Hard: rl.Max}
		}
	}
	return out
}

// procStatus reads /proc/self/status into a map of field to value, and picks
// the capability sets out of it.
func procStatus() (fields, caps map[string]string) {
	fields, caps = map[string]string{}, map[string]string{}
	for _, line := range strings.Split(readFile("/proc/self/status"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
			if strings.HasPrefix(k, "Cap") {
				caps[k] = fields[k]
			}
		}
	}
	return fields, caps
}

// openFDs lists the open descriptors, leaving out the one that reads them.
func openFDs() []FD {
	fds := []FD{}
	names, dirfd := readDir("/proc/self/fd")
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd == dirfd {
			continue
		}
		buf := make([]byte, 4096)
		n, _ := unix.Readlink("/proc/self/fd/"+name, buf)
		fds = append(fds, FD{FD: fd, Target: string(buf[:max(n, 0)])})
	}
	return fds
}

func namespaces() map[string]uint64 {
	names, _ := readDir("/proc/self/ns")
	out := map[string]uint64{}
	for _, name := range names {
		var st unix.Stat_t
		if unix.Stat("/proc/self/ns/"+name, &st) == nil {
			out[name] = st.Ino
		}
	}
	return out
}

// readFile returns the contents of a small proc file, or "" when it cannot
// be read.
func readFile(path string) string {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	buf := make([]byte, 64<<10)
	n, _ := unix.Read(fd, buf)
	return string(buf[:max(n, 0)])
}

// readDir returns the names in dir and the descriptor it was read through
// (closed by then).
func readDir(dir string) ([]string, int) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, -1
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if n <= 0 || err != nil {
			return names, fd
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

func pause() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT, unix.SIGALRM)
	fmt.Println("ready")
	for s := range sigs {
		sig := s.(unix.Signal)
		fmt.Println(unix.SignalName(sig))
		if sig == unix.SIGTERM || sig == unix.SIGINT {
			os.Exit(0)
		}
	}
}

func write(args []string) {
	if len(args) != 2 {
		usage()
	}
	if err := os.WriteFile(args[0], []byte(args[1]), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "testprog:", err)
		os.Exit(1)
	}
}

func mknod(args []string) {
	if len(args) != 1 {
		usage()
	}
	err := unix.Mknod(args[0], unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
	if err == nil {
		return
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		fmt.Println(unix.ErrnoName(errno))
	} else {
		fmt.Println(err)
	}
	os.Exit(1)
}
