package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/corral-dev/corral/errdefs"
	"github.com/moby/moby/api/types/container"
)

// Top lists a container's processes as `docker top` shows them: the host's
// ps run with psArgs ("-ef" when empty, split at every space as dockerd
// splits it), the rows whose PID is one of pids (the container's processes
// on the host) and the thread rows ("-" as PID) that follow them. It asks ps
// for those pids only (-q) and, when ps refuses that with psArgs (forest
// listings), lists every process and filters. A psArgs that names another
// column "PID" is refused, since the PID column could not be found again.
func Top(ctx context.Context, pids []int, psArgs string) (container.TopResponse, error) {
	return top(ctx, "ps", pids, psArgs)
}

// top is Top with the path of ps, so tests can give another program.
func top(ctx context.Context, ps string, pids []int, psArgs string) (container.TopResponse, error) {
	if psArgs == "" {
		psArgs = "-ef"
	}
	if err := validatePSArgs(psArgs); err != nil {
		return container.TopResponse{}, err
	}
	args := strings.Split(psArgs, " ")
	out, err := runPS(ctx, ps, append(slices.Clone(args), quickPids(pids)))
	if err != nil && ctx.Err() == nil {
		out, err = runPS(ctx, ps, args)
	}
	if err != nil {
		return container.TopResponse{}, err
	}
	return parsePS(out, pids)
}

// renamedPID finds "-o name=PID..." in ps arguments.
var renamedPID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\s+(\S*)=\s*(PID\S*)`) })

// validatePSArgs refuses a column other than pid titled PID.
func validatePSArgs(psArgs string) error {
	for _, m := range renamedPID().FindAllStringSubmatch(psArgs, -1) {
		if m[1] != "pid" {
			return errdefs.InvalidArgument(fmt.Errorf("specifying \"%s=%s\" is not allowed", m[1], m[2]))
		}
	}
	return nil
}

// quickPids is ps's "-q1,2,3", which selects those processes only.
func quickPids(pids []int) string {
	b := []byte("-q")
	for i, p := range pids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(p), 10)
	}
	return string(b)
}

// runPS runs ps and answers its output; a failure is named by the first
// line ps wrote to stderr.
func runPS(ctx context.Context, ps string, args []string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, ps, args...).Output()
	if err == nil {
		return out, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("ps: %w", ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if line, _, _ := bytes.Cut(ee.Stderr, []byte("\n")); len(line) > 0 {
			err = errors.New(string(line))
		}
	}
	return nil, fmt.Errorf("ps: %w", err)
}

// parsePS keeps the rows of ps output whose PID is one of pids, with the
// thread rows ("-" as PID, from ps's m or -L) that follow a kept row. A row
// with more fields than titles has its last fields joined by spaces (a
// command line); fields are split at ASCII white space only, as dockerd
// does, so a command's other spaces stay in it.
func parsePS(out []byte, pids []int) (container.TopResponse, error) {
	lines := strings.Split(string(out), "\n")
	resp := container.TopResponse{Titles: fieldsASCII(lines[0])}
	pidCol := slices.Index(resp.Titles, "PID")
	if pidCol < 0 {
		//lint:ignore ST1005 dockerd's wording.
		return container.TopResponse{}, errors.New("Couldn't find PID field in ps output")
	}
	kept := false // whether the last process row was kept
	for _, line := range lines[1:] {
		fields := fieldsASCII(line)
		if len(fields) <= pidCol {
			continue
		}
		if fields[pidCol] == "-" {
			if kept {
				resp.Processes = append(resp.Processes, topRow(fields, len(resp.Titles)))
			}
			continue
		}
		pid, err := strconv.Atoi(fields[pidCol])
		if err != nil {
			//lint:ignore ST1005 dockerd's wording.
			return container.TopResponse{}, fmt.Errorf("Unexpected pid '%s': %s", fields[pidCol], err)
		}
		if kept = slices.Contains(pids, pid); kept {
			resp.Processes = append(resp.Processes, topRow(fields, len(resp.Titles)))
		}
	}
	return resp, nil
}

// topRow makes a row of n fields: the overhanging ones are joined into the
// last, missing ones are empty.
func topRow(fields []string, n int) []string {
	if len(fields) <= n {
		return append(fields, make([]string, n-len(fields))...)
	}
	return append(fields[:n-1:n-1], strings.Join(fields[n-1:], " "))
}

// fieldsASCII splits s at ASCII white space, not at Unicode spaces a
// command line may hold.
func fieldsASCII(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r'
	})
}
