package build

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/image"
)

// runStep is RUN: the command in a container on s's image, its changes the
// next image.
func (j *job) runStep(ctx context.Context, s *state, c *instructions.RunCommand) error {
	for _, f := range c.FlagsUsed {
		if f != "network" && f != "mount" {
			return errdefs.Wrap(errdefs.ErrNotImplemented, fmt.Errorf("RUN --%s is not supported yet", f))
		}
	}
	ms, err := j.parseMounts(s, c)
	if err != nil {
		return err
	}
	rm, err := j.prepareMounts(ctx, s, ms)
	if err != nil {
		return err
	}
	defer rm.done()
	cmd := runArgv(&s.cfg, c)
	network := j.opts.NetworkMode
	if n := instructions.GetNetwork(c); n != "" {
		network = string(n)
	}
	if network == "" || network == "default" {
		network = "none"
	}
	argv, _ := json.Marshal(cmd)
	key := j.key(s, "RUN "+string(argv), "network="+network+"\x00"+strings.Join(slices.Sorted(slices.Values(rm.key)), "\x00"))
	return j.cached(ctx, s, key, func() (string, error) {
		return j.b.opts.Runner.Run(ctx, Run{Image: s.id, Epoch: j.epoch, Config: s.cfg.Clone(), Cmd: cmd,
			Env: j.runEnv(s), Network: network, Mounts: rm.mounts, CreatedBy: createdBy(s, cmd), Output: j.p,
			Started: func(id string) { j.p.printf(" ---> Running in %s", shortID(id)) }})
	})
}

// runArgv is RUN's argv: the exec form as is; the shell form, heredocs
// included, as one script for the shell.
func runArgv(cfg *image.ContainerConfig, c *instructions.RunCommand) []string {
	if !c.PrependShell {
		return slices.Clone(c.CmdLine)
	}
	script := strings.Join(c.CmdLine, " ")
	if len(c.Files) == 1 && strings.HasPrefix(strings.TrimSpace(script), "<<") && !strings.Contains(strings.TrimSpace(script), " ") {
		// RUN <<EOF: the heredoc is the script itself
		data := c.Files[0].Data
		if c.Files[0].Chomp {
			data = parser.ChompHeredocContent(data)
		}
		return append(shellOf(cfg), data)
	}
	for _, f := range c.Files {
		script += "\n" + f.Data + f.Name
	}
	return append(shellOf(cfg), script)
}

// runEnv is RUN's environment: the config's, then the ARGs in scope and
// the proxy build args that ENV does not set.
func (j *job) runEnv(s *state) []string {
	env := slices.Clone(s.cfg.Env)
	add := func(k, v string) {
		if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") }) {
			env = append(env, k+"="+v)
		}
	}
	for _, k := range sortedKeys(s.args) {
		add(k, s.args[k])
	}
	for _, k := range append(slices.Clone(proxyArgs), "SOURCE_DATE_EPOCH") {
		if v, ok := j.opts.BuildArgs[k]; ok && v != nil {
			add(k, *v)
		}
	}
	return env
}

// createdBy is the history entry of a RUN, as docker writes it: the
// build args in effect ("|2 A=1 B=2 ") before the command, the proxy
// ones left out.
func createdBy(s *state, cmd []string) string {
	var b strings.Builder
	keys := slices.DeleteFunc(sortedKeys(s.args), func(k string) bool { return slices.Contains(proxyArgs, k) })
	if len(keys) > 0 {
		b.WriteString("|" + itoa(len(keys)))
		for _, k := range keys {
			b.WriteString(" " + k + "=" + s.args[k])
		}
		b.WriteString(" ")
	}
	b.WriteString(joinCmd(cmd))
	return b.String()
}
