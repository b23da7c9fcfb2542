package seccomp

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cond is one argument comparison of a rule.
type cond struct {
	index uint
	op    specs.LinuxSeccompOperator
	// value is the operand; for SCMP_CMP_MASKED_EQ the mask, and value2
	// the datum: (arg & value) == value2.
	value, value2 uint64
}

// rule is one entry of config.syscalls, checked and converted.
type rule struct {
	names []string
	ret   uint32 // seccomp return value
	conds []cond // all must hold
}

// config is a checked seccomp config.
type config struct {
	defRet uint32
	rules  []rule
	flags  uintptr // seccomp(2) flags, SECCOMP_FILTER_FLAG_NEW_LISTENER included
	notify bool
}

// badArchRet is what a syscall of an architecture the filter does not cover
// gets: libseccomp's default SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL.
const badArchRet = unix.SECCOMP_RET_KILL_THREAD

// parse checks c and converts it. Errors name the offending field.
func parse(c *specs.LinuxSeccomp) (*config, error) {
	if c == nil {
		return nil, errors.New("seccomp: no config")
	}
	def, err := actionRet(c.DefaultAction, c.DefaultErrnoRet, "defaultAction", "defaultErrnoRet")
	if err != nil {
		return nil, err
	}
	if c.DefaultAction == specs.ActNotify {
		return nil, errors.New("seccomp: defaultAction: SCMP_ACT_NOTIFY cannot be the default action")
	}
	cfg := &config{defRet: def}
	if cfg.flags, err = parseFlags(c.Flags); err != nil {
		return nil, err
	}
	for i, sc := range c.Syscalls {
		r, err := parseRule(i, sc)
		if err != nil {
			return nil, err
		}
		if sc.Action == specs.ActNotify && slices.Contains(sc.Names, "write") {
			// As runc: the runtime itself writes to hand the listener
			// over, and nobody would answer before the agent has it.
			return nil, fmt.Errorf("seccomp: syscalls[%d]: SCMP_ACT_NOTIFY cannot be used for the write syscall", i)
		}
		cfg.notify = cfg.notify || sc.Action == specs.ActNotify
		cfg.rules = append(cfg.rules, splitSameArg(r)...)
	}
	if c.ListenerMetadata != "" && c.ListenerPath == "" {
		return nil, errors.New("seccomp: listenerMetadata is set without listenerPath")
	}
	if cfg.notify {
		if c.ListenerPath == "" {
			return nil, errors.New("seccomp: SCMP_ACT_NOTIFY is used but listenerPath is not set")
		}
		cfg.flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		if cfg.flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 {
			// The kernel takes TSYNC with a listener only this way.
			cfg.flags |= unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
		}
	} else {
		// The flag only changes how notifications wait; without a
		// listener the kernel would refuse it.
		cfg.flags &^= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	}
	return cfg, nil
}

func parseRule(i int, sc specs.LinuxSyscall) (rule, error) {
	field := fmt.Sprintf("syscalls[%d]", i)
	if len(sc.Names) == 0 {
		return rule{}, fmt.Errorf("seccomp: %s.names is empty", field)
	}
	ret, err := actionRet(sc.Action, sc.ErrnoRet, field+".action", field+".errnoRet")
	if err != nil {
		return rule{}, err
	}
	r := rule{names: sc.Names, ret: ret}
	for j, arg := range sc.Args {
		afield := fmt.Sprintf("%s.args[%d]", field, j)
		if arg.Index > 5 {
			return rule{}, fmt.Errorf("seccomp: %s.index: %d is not an argument index (0 to 5)", afield, arg.Index)
		}
		switch arg.Op {
		case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
			specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
		default:
			return rule{}, fmt.Errorf("seccomp: %s.op: unknown operator %q", afield, arg.Op)
		}
		r.conds = append(r.conds, cond{index: arg.Index, op: arg.Op, value: arg.Value, value2: arg.ValueTwo})
	}
	return r, nil
}

// splitSameArg follows runc: when one argument has several conditions in a
// rule, each condition of the rule becomes a rule of its own, so they are
// ORed (libseccomp cannot AND two conditions on one argument, and the
// profiles written for runc rely on this, e.g. a syscall allowed for either
// of two values of an argument).
func splitSameArg(r rule) []rule {
	seen := map[uint]bool{}
	same := false
	for _, c := range r.conds {
		same = same || seen[c.index]
		seen[c.index] = true
	}
	if !same {
		return []rule{r}
	}
	out := make([]rule, len(r.conds))
	for i, c := range r.conds {
		out[i] = rule{names: r.names, ret: r.ret, conds: []cond{c}}
	}
	return out
}

// actionRet converts an action and its errno into a seccomp return value.
func actionRet(act specs.LinuxSeccompAction, errno *uint, field, errnoField string) (uint32, error) {
	var ret uint32
	takesData := false
	switch act {
	case specs.ActKill, specs.ActKillThread:
		ret = unix.SECCOMP_RET_KILL_THREAD
	case specs.ActKillProcess:
		ret = unix.SECCOMP_RET_KILL_PROCESS
	case specs.ActTrap:
		ret = unix.SECCOMP_RET_TRAP
	case specs.ActErrno:
		ret, takesData = unix.SECCOMP_RET_ERRNO, true
	case specs.ActTrace:
		ret, takesData = unix.SECCOMP_RET_TRACE, true
	case specs.ActAllow:
		ret = unix.SECCOMP_RET_ALLOW
	case specs.ActLog:
		ret = unix.SECCOMP_RET_LOG
	case specs.ActNotify:
		ret = unix.SECCOMP_RET_USER_NOTIF
	default:
		return 0, fmt.Errorf("seccomp: %s: unknown action %q", field, act)
	}
	switch {
	case errno != nil && !takesData:
		return 0, fmt.Errorf("seccomp: %s: action %s takes no errno", errnoField, act)
	case errno != nil && *errno > unix.SECCOMP_RET_DATA:
		return 0, fmt.Errorf("seccomp: %s: %d is too large (at most %d)", errnoField, *errno, unix.SECCOMP_RET_DATA)
	case errno != nil:
		ret |= uint32(*errno)
	case takesData:
		ret |= uint32(unix.EPERM)
	}
	return ret, nil
}

// parseFlags converts config.flags into seccomp(2) flags.
func parseFlags(flags []specs.LinuxSeccompFlag) (uintptr, error) {
	var out uintptr
	for i, f := range flags {
		switch f {
		case "SECCOMP_FILTER_FLAG_TSYNC":
			out |= unix.SECCOMP_FILTER_FLAG_TSYNC
		case specs.LinuxSeccompFlagLog:
			out |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			out |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			out |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		default:
			return 0, fmt.Errorf("seccomp: flags[%d]: unknown flag %q", i, f)
		}
	}
	return out, nil
}
