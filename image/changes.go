package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/corral-dev/corral/errdefs"
)

// ApplyChanges applies Dockerfile instructions to an image config, as
// `docker import --change` and `docker commit --change` take them: CMD,
// ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, SHELL, STOPSIGNAL, USER, VOLUME
// and WORKDIR.
func ApplyChanges(c *ContainerConfig, changes []string) error {
	for _, ch := range changes {
		instr, args, _ := strings.Cut(strings.TrimSpace(ch), " ")
		args = strings.TrimSpace(args)
		if err := applyChange(c, strings.ToUpper(instr), args); err != nil {
			return errdefs.InvalidArgument(fmt.Errorf("change %q: %w", ch, err))
		}
	}
	return nil
}

func applyChange(c *ContainerConfig, instr, args string) error {
	var err error
	switch instr {
	case "CMD":
		c.Cmd, err = commandForm(args, c.Shell)
	case "ENTRYPOINT":
		c.Entrypoint, err = commandForm(args, c.Shell)
	case "SHELL":
		err = json.Unmarshal([]byte(args), &c.Shell)
	case "ENV":
		err = applyPairs(args, true, func(k, v string) { c.Env = setEnv(c.Env, k, v) })
	case "LABEL":
		err = applyPairs(args, false, func(k, v string) {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			c.Labels[k] = v
		})
	case "EXPOSE":
		err = expose(c, args)
	case "VOLUME":
		err = volumes(c, args)
	case "USER":
		c.User = args
	case "WORKDIR":
		c.WorkingDir = args
	case "STOPSIGNAL":
		c.StopSignal = args
	case "ONBUILD":
		c.OnBuild = append(c.OnBuild, args)
	default:
		return fmt.Errorf("dockerfile instruction %q is not supported here", instr)
	}
	return err
}

// commandForm parses the exec form (a JSON array) or the shell form (run
// by the shell, /bin/sh -c by default).
func commandForm(args string, shell []string) ([]string, error) {
	if strings.HasPrefix(args, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err == nil {
			return argv, nil
		}
	}
	if len(shell) == 0 {
		shell = []string{"/bin/sh", "-c"}
	}
	return append(append([]string{}, shell...), args), nil
}

// applyPairs parses key=value words (quotes and backslashes as a shell
// does); legacyForm allows ENV's old "key value" form.
func applyPairs(args string, legacyForm bool, set func(k, v string)) error {
	words, err := splitWords(args)
	if err != nil {
		return err
	}
	if len(words) == 0 {
		return errors.New("needs at least one argument")
	}
	if legacyForm && !strings.Contains(words[0], "=") {
		key, value, _ := strings.Cut(args, " ")
		set(key, strings.TrimSpace(value))
		return nil
	}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not key=value", w)
		}
		set(k, v)
	}
	return nil
}

// splitWords splits s into words, honouring "double" and 'single' quotes
// and backslash escapes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, errors.New("unterminated quote or escape")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func expose(c *ContainerConfig, args string) error {
	for _, p := range strings.Fields(args) {
		port, proto, ok := strings.Cut(p, "/")
		if !ok {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		if port == "" || strings.Trim(port, "0123456789-") != "" || (proto != "tcp" && proto != "udp" && proto != "sctp") {
			return fmt.Errorf("invalid port %q", p)
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		c.ExposedPorts[port+"/"+proto] = struct{}{}
	}
	return nil
}

func volumes(c *ContainerConfig, args string) error {
	var paths []string
	if strings.HasPrefix(args, "[") {
		if err := json.Unmarshal([]byte(args), &paths); err != nil {
			return err
		}
	} else {
		paths = strings.Fields(args)
	}
	if len(paths) == 0 {
		return errors.New("needs at least one path")
	}
	if c.Volumes == nil {
		c.Volumes = map[string]struct{}{}
	}
	for _, p := range paths {
		c.Volumes[p] = struct{}{}
	}
	return nil
}
