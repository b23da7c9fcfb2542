package initproc

import (
	"errors"
	"strconv"
)

// Options is what the command line asks of the init.
type Options struct {
	// Command is the program to run and its arguments.
	Command []string
	// KillGroup (-g) forwards signals to the child's whole process group
	// instead of the child alone.
	KillGroup bool
	// RemapExit (-e CODE, repeatable) lists exit codes of the child that
	// the init reports as 0 (a JVM's 143 after SIGTERM, say).
	RemapExit []int
	// Help (-h, --help) asks for the usage text.
	Help bool
}

// UsageLine is the synopsis, printed after a usage error.
const UsageLine = "usage: corral-init [-g] [-s] [-e CODE]... [--] PROGRAM [ARG]..."

// Usage is the text printed for -h.
const Usage = UsageLine + `

Runs PROGRAM as the child of a minimal init: reaps every zombie, forwards
signals to the child and exits with the child's status (128+N when signal N
killed it). When not PID 1 it makes itself a child subreaper.

  -g       forward signals to the child's process group, not only the child
  -s       accepted for tini compatibility (subreaper is always on off PID 1)
  -e CODE  exit 0 when the child exits with CODE (may be repeated)
  -h       print this text
`

// ParseArgs parses the arguments after the program name. Options come
// first; "--" or the first argument that is not an option starts the
// command. Short options may be combined ("-gs"), and -e takes its value
// attached or as the next argument.
func ParseArgs(args []string) (Options, error) {
	var o Options
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			o.Command = args[i+1:]
			return o, o.check()
		case a == "--help":
			o.Help = true
			return o, nil
		case len(a) < 2 || a[0] != '-':
			o.Command = args[i:]
			return o, o.check()
		}
		next, err := o.shortFlags(a[1:], args[i+1:])
		if err != nil {
			return o, err
		}
		i += next
		if o.Help {
			return o, nil
		}
	}
	return o, o.check()
}

// shortFlags applies one argument of combined short flags (without its
// dash). It returns how many of the following arguments it consumed.
func (o *Options) shortFlags(flags string, rest []string) (int, error) {
	for j := 0; j < len(flags); j++ {
		switch flags[j] {
		case 'g':
			o.KillGroup = true
		case 's':
		case 'h':
			o.Help = true
			return 0, nil
		case 'e':
			value, used := flags[j+1:], 0
			if value == "" {
				if len(rest) == 0 {
					return 0, errors.New("option -e needs an exit code")
				}
				value, used = rest[0], 1
			}
			code, err := strconv.Atoi(value)
			if err != nil || code < 0 || code > 255 {
				return 0, errors.New("option -e: exit code " + strconv.Quote(value) + " is not 0..255")
			}
			o.RemapExit = append(o.RemapExit, code)
			return used, nil
		default:
			return 0, errors.New("unknown option -" + flags[j:j+1])
		}
	}
	return 0, nil
}

func (o *Options) check() error {
	if len(o.Command) == 0 {
		return errors.New("no program to run")
	}
	if o.Command[0] == "" {
		return errors.New("empty program name")
	}
	return nil
}

// exitCode applies RemapExit to the child's exit code.
func (o *Options) exitCode(code int) int {
	for _, c := range o.RemapExit {
		if c == code {
			return 0
		}
	}
	return code
}
