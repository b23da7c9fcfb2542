package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// The default seccomp profile: an allow-list equivalent to Docker's default
// (moby/profiles seccomp v0.2.3). Everything not listed fails with EPERM.
// Syscalls that reach kernel state shared with the host (keyrings, kernel
// modules, kexec, bpf, perf, mount, namespaces, clocks, swap, reboot...)
// are allowed only when the container holds the capability that guards
// them; a few are never allowed (keyctl, add_key, request_key, userfaultfd,
// io_uring, kexec_load, open_by_handle_at without CAP_DAC_READ_SEARCH...).

// allowed lists, by area, the syscalls every container may make. Names a
// kernel does not have on an architecture are skipped by the filter
// compiler, so 32-bit variants (chown32, fcntl64, *_time64) sit beside the
// 64-bit ones.
var allowed = [][]string{
	// Files: open, read, write, seek, metadata, directories, links.
	{"open", "openat", "openat2", "creat", "close", "close_range", "read", "write",
		"readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
		"pwritev2", "lseek", "_llseek", "dup", "dup2", "dup3", "fcntl", "fcntl64",
		"ioctl", "flock", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
		"fadvise64", "fadvise64_64", "fallocate", "readahead", "sendfile",
		"sendfile64", "splice", "tee", "vmsplice", "copy_file_range", "cachestat",
		"truncate", "truncate64", "ftruncate", "ftruncate64"},
	{"stat", "stat64", "fstat", "fstat64", "lstat", "lstat64", "newfstatat",
		"fstatat64", "statx", "statfs", "statfs64", "fstatfs", "fstatfs64",
		"access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd",
		"getdents", "getdents64", "mkdir", "mkdirat", "mknod", "mknodat", "rmdir",
		"link", "linkat", "symlink", "symlinkat", "unlink", "unlinkat", "rename",
		"renameat", "renameat2", "readlink", "readlinkat", "umask",
		"name_to_handle_at", "listmount", "statmount"},
	{"chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "chown32", "fchown",
		"fchown32", "lchown", "lchown32", "fchownat", "utime", "utimes",
		"utimensat", "utimensat_time64", "futimesat"},
	// Extended attributes.
	{"getxattr", "lgetxattr", "fgetxattr", "getxattrat", "listxattr", "llistxattr",
		"flistxattr", "listxattrat", "setxattr", "lsetxattr", "fsetxattr",
		"setxattrat", "removexattr", "lremovexattr", "fremovexattr", "removexattrat"},
	// Waiting for file descriptors, and notification descriptors.
	{"select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll",
		"ppoll_time64", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
		"epoll_wait", "epoll_wait_old", "epoll_pwait", "epoll_pwait2", "eventfd",
		"eventfd2", "pipe", "pipe2", "inotify_init", "inotify_init1",
		"inotify_add_watch", "inotify_rm_watch", "fanotify_mark", "signalfd",
		"signalfd4", "timerfd_create", "timerfd_settime", "timerfd_settime64",
		"timerfd_gettime", "timerfd_gettime64"},
	// Asynchronous I/O (io_uring is left out).
	{"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents",
		"io_pgetevents", "io_pgetevents_time64"},
	// Memory.
	{"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore",
		"msync", "mlock", "mlock2", "mlockall", "munlock", "munlockall",
		"remap_file_pages", "memfd_create", "memfd_secret", "mseal", "pkey_alloc",
		"pkey_free", "pkey_mprotect", "map_shadow_stack", "membarrier"},
	// Processes, threads and scheduling (clone is below: its flags are checked).
	{"fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
		"waitpid", "getpid", "getppid", "gettid", "getpgid", "getpgrp", "setpgid",
		"getsid", "setsid", "set_tid_address", "restart_syscall", "rseq",
		"set_robust_list", "get_robust_list", "set_thread_area", "get_thread_area",
		"prctl", "seccomp", "capget", "capset", "uname", "sysinfo", "getrusage",
		"times", "getcpu", "getpriority", "setpriority", "ioprio_get", "ioprio_set",
		"pidfd_open", "pidfd_send_signal", "process_mrelease", "uretprobe",
		"riscv_hwprobe", "landlock_create_ruleset", "landlock_add_rule",
		"landlock_restrict_self"},
	{"sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr",
		"sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler",
		"sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
		"sched_rr_get_interval", "sched_rr_get_interval_time64"},
	{"getrlimit", "ugetrlimit", "setrlimit", "prlimit64"},
	// Credentials (changing them needs CAP_SETUID/CAP_SETGID anyway).
	{"getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid",
		"getegid32", "getresuid", "getresuid32", "getresgid", "getresgid32",
		"getgroups", "getgroups32", "setuid", "setuid32", "setgid", "setgid32",
		"setreuid", "setreuid32", "setregid", "setregid32", "setresuid",
		"setresuid32", "setresgid", "setresgid32", "setfsuid", "setfsuid32",
		"setfsgid", "setfsgid32", "setgroups", "setgroups32"},
	// Signals.
	{"kill", "tkill", "tgkill", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
		"rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
		"rt_sigtimedwait", "rt_sigtimedwait_time64", "sigaltstack", "sigprocmask",
		"sigreturn", "pause", "alarm"},
	// Time and timers (setting clocks is below, under CAP_SYS_TIME).
	{"time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres",
		"clock_getres_time64", "clock_nanosleep", "clock_nanosleep_time64",
		"clock_adjtime", "clock_adjtime64", "adjtimex", "nanosleep", "getitimer",
		"setitimer", "timer_create", "timer_delete", "timer_getoverrun",
		"timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64"},
	// Futexes.
	{"futex", "futex_time64", "futex_waitv", "futex_wait", "futex_wake", "futex_requeue"},
	// System V IPC and POSIX message queues (namespaced).
	{"ipc", "msgget", "msgctl", "msgsnd", "msgrcv", "semget", "semctl", "semop",
		"semtimedop", "semtimedop_time64", "shmget", "shmctl", "shmat", "shmdt",
		"mq_open", "mq_unlink", "mq_getsetattr", "mq_notify", "mq_timedsend",
		"mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64"},
	// Sockets (socket itself is below: some address families are refused).
	{"socketcall", "socketpair", "bind", "connect", "listen", "accept", "accept4",
		"getsockname", "getpeername", "getsockopt", "setsockopt", "shutdown", "send",
		"sendto", "sendmsg", "sendmmsg", "recv", "recvfrom", "recvmsg", "recvmmsg",
		"recvmmsg_time64"},
	{"getrandom"},
}

// Address families socket(2) refuses: AF_ALG (38), kernel crypto reachable
// from any process, and AF_VSOCK (40), the host's virtual machine sockets.
const (
	afALG   = 38
	afVSOCK = 40
)

// cloneNamespaceFlags are the clone(2) flags that make new namespaces:
// CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
// CLONE_NEWPID, CLONE_NEWNET. Without CAP_SYS_ADMIN clone is allowed only
// with none of them set.
const cloneNamespaceFlags = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 |
	0x10000000 | 0x20000000 | 0x40000000

// Personalities a container may switch to: PER_LINUX, PER_LINUX32 (8),
// UNAME26 (0x20000), both, and the query value 0xffffffff.
var personalities = []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

// capSyscalls are the syscalls a capability unlocks.
var capSyscalls = []struct {
	cap   string
	names []string
}{
	{"CAP_SYS_ADMIN", []string{"mount", "umount", "umount2", "mount_setattr", "move_mount",
		"open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "unshare", "setns",
		"clone", "clone3", "sethostname", "setdomainname", "quotactl", "quotactl_fd",
		"syslog", "bpf", "perf_event_open", "fanotify_init", "lookup_dcookie",
		"lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules"}},
	{"CAP_DAC_READ_SEARCH", []string{"open_by_handle_at"}},
	{"CAP_SYS_BOOT", []string{"reboot"}},
	{"CAP_SYS_CHROOT", []string{"chroot"}},
	{"CAP_SYS_MODULE", []string{"init_module", "finit_module", "delete_module"}},
	{"CAP_SYS_PACCT", []string{"acct"}},
	{"CAP_SYS_PTRACE", []string{"ptrace", "kcmp", "pidfd_getfd", "process_madvise",
		"process_vm_readv", "process_vm_writev"}},
	{"CAP_SYS_RAWIO", []string{"iopl", "ioperm"}},
	{"CAP_SYS_TIME", []string{"settimeofday", "stime", "clock_settime", "clock_settime64"}},
	{"CAP_SYS_TTY_CONFIG", []string{"vhangup"}},
	{"CAP_SYS_NICE", []string{"mbind", "get_mempolicy", "set_mempolicy",
		"set_mempolicy_home_node"}},
	{"CAP_SYSLOG", []string{"syslog"}},
	{"CAP_BPF", []string{"bpf"}},
	{"CAP_PERFMON", []string{"perf_event_open"}},
}

// archSyscalls are allowed only on some architectures (Go names, plus x86
// and x32 as libseccomp names them).
var archSyscalls = []struct {
	arches []string
	names  []string
}{
	{[]string{"amd64", "x32"}, []string{"arch_prctl"}},
	{[]string{"amd64", "x32", "x86"}, []string{"modify_ldt"}},
	{[]string{"arm", "arm64"}, []string{"arm_fadvise64_64", "arm_sync_file_range",
		"sync_file_range2", "breakpoint", "cacheflush", "set_tls"}},
	{[]string{"ppc64le"}, []string{"sync_file_range2", "swapcontext"}},
	{[]string{"s390", "s390x"}, []string{"s390_pci_mmio_read", "s390_pci_mmio_write",
		"s390_runtime_instr"}},
	{[]string{"riscv64"}, []string{"riscv_flush_icache"}},
}

// DefaultProfile returns the built-in profile in Docker's format, the one a
// container gets unless --security-opt seccomp= says otherwise.
func DefaultProfile() *Profile {
	eperm := uint(1)
	p := &Profile{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		ArchMap: []ArchMap{
			{Arch: specs.ArchX86_64, SubArches: []specs.Arch{specs.ArchX86, specs.ArchX32}},
			{Arch: specs.ArchAARCH64, SubArches: []specs.Arch{specs.ArchARM}},
			{Arch: specs.ArchS390X, SubArches: []specs.Arch{specs.ArchS390}},
			{Arch: specs.ArchPPC64LE},
			{Arch: specs.ArchRISCV64},
			{Arch: specs.ArchLOONGARCH64},
		},
	}
	var all []string
	for _, group := range allowed {
		all = append(all, group...)
	}
	p.Syscalls = append(p.Syscalls, allow(all...))
	// ptrace and reading other processes' memory are allowed from 4.8 on,
	// where ptrace can no longer bypass seccomp.
	ptrace := allow("ptrace", "process_vm_readv", "process_vm_writev")
	ptrace.Includes = &Filter{MinKernel: "4.8"}
	p.Syscalls = append(p.Syscalls, ptrace)
	p.Syscalls = append(p.Syscalls, socketRules()...)
	for _, v := range personalities {
		p.Syscalls = append(p.Syscalls, argRule("personality", 0, v, specs.OpEqualTo))
	}
	for _, a := range archSyscalls {
		r := allow(a.names...)
		r.Includes = &Filter{Arches: a.arches}
		p.Syscalls = append(p.Syscalls, r)
	}
	p.Syscalls = append(p.Syscalls, cloneRules()...)
	for _, c := range capSyscalls {
		r := allow(c.names...)
		r.Includes = &Filter{Caps: []string{c.cap}}
		p.Syscalls = append(p.Syscalls, r)
	}
	return p
}

func allow(names ...string) Syscall {
	return Syscall{Names: names, Action: specs.ActAllow}
}

func argRule(name string, index uint, value uint64, op specs.LinuxSeccompOperator) Syscall {
	r := allow(name)
	r.Args = []specs.LinuxSeccompArg{{Index: index, Value: value, Op: op}}
	return r
}

// socketRules allow socket(2) for every address family but AF_ALG and
// AF_VSOCK.
func socketRules() []Syscall {
	return []Syscall{
		argRule("socket", 0, afALG, specs.OpLessThan),
		argRule("socket", 0, afALG+1, specs.OpEqualTo),
		argRule("socket", 0, afVSOCK, specs.OpGreaterThan),
	}
}

// cloneRules: without CAP_SYS_ADMIN, clone may not make namespaces (the
// flags are the first argument, the second on s390), and clone3, whose
// flags sit in memory a filter cannot read, fails with ENOSYS so that C
// libraries fall back to clone.
func cloneRules() []Syscall {
	noAdmin := func(r Syscall) Syscall {
		if r.Excludes == nil {
			r.Excludes = &Filter{}
		}
		r.Excludes.Caps = []string{"CAP_SYS_ADMIN"}
		return r
	}
	clone := argRule("clone", 0, cloneNamespaceFlags, specs.OpMaskedEqual)
	clone.Args[0].ValueTwo = 0
	clone.Excludes = &Filter{Arches: []string{"s390", "s390x"}}
	cloneS390 := argRule("clone", 1, cloneNamespaceFlags, specs.OpMaskedEqual)
	cloneS390.Includes = &Filter{Arches: []string{"s390", "s390x"}}
	enosys := uint(38)
	clone3 := Syscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys}
	return []Syscall{noAdmin(clone), noAdmin(cloneS390), noAdmin(clone3)}
}
