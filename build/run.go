package build

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/moby/api/types/mount"

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
	if name, data, ok := soleHeredoc(c); ok && strings.HasPrefix(data, "#!") {
		if cmd, err = j.scriptMount(rm, name, data); err != nil {
			return err
		}
	}
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
	if _, data, ok := soleHeredoc(c); ok {
		return append(shellOf(cfg), data)
	}
	script := strings.Join(c.CmdLine, " ")
	for _, f := range c.Files {
		script += "\n" + f.Data + f.Name
	}
	return append(shellOf(cfg), script)
}

// soleHeredoc answers the name and the content of the heredoc that is the
// whole of a shell-form RUN (RUN <<EOF), chomped for <<-.
func soleHeredoc(c *instructions.RunCommand) (name, data string, ok bool) {
	script := strings.TrimSpace(strings.Join(c.CmdLine, " "))
	if !c.PrependShell || len(c.Files) != 1 || !strings.HasPrefix(script, "<<") || strings.Contains(script, " ") {
		return "", "", false
	}
	data = c.Files[0].Data
	if c.Files[0].Chomp {
		data = parser.ChompHeredocContent(data)
	}
	return c.Files[0].Name, data, true
}

// scriptDir is where RUN <<EOF scripts are bound in the container.
const scriptDir = "/dev/pipes"

// scriptMount makes a RUN <<EOF script that starts with #! a file run
// as the command, so the kernel honours its interpreter, as BuildKit
// does: mode 0755, bound read-only at /dev/pipes/NAME (not in the
// commit), its content in the cache key. It answers the argv.
func (j *job) scriptMount(rm *runMounts, name, data string) ([]string, error) {
	dir, err := os.MkdirTemp(j.b.opts.TempDir, "heredoc-")
	if err != nil {
		return nil, fmt.Errorf("heredoc script: %w", err)
	}
	rm.release = append(rm.release, func() { os.RemoveAll(dir) })
	file := filepath.Join(dir, "script")
	if err := os.WriteFile(file, []byte(data), 0o755); err != nil {
		return nil, fmt.Errorf("heredoc script: %w", err)
	}
	if err := os.Chmod(file, 0o755); err != nil { // not the umask's
		return nil, fmt.Errorf("heredoc script: %w", err)
	}
	target := path.Join(scriptDir, path.Base("/"+name))
	sum := sha256.Sum256([]byte(data))
	rm.add(mount.Mount{Type: mount.TypeBind, Source: file, Target: target, ReadOnly: true},
		fmt.Sprintf("heredoc %s %x", target, sum))
	return []string{target}, nil
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
