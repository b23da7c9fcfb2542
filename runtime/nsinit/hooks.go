package nsinit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RunHooks runs each hook in order with the container state as JSON on its
// stdin, as the OCI runtime spec describes. The first failure stops the run;
// its error names the hook's path and includes what the hook wrote to stderr.
func RunHooks(hooks []specs.Hook, state *specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	data, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("encode state for hooks: %w", err)
	}
	for i := range hooks {
		if err := runHook(&hooks[i], data); err != nil {
			return err
		}
	}
	return nil
}

// RunAllHooks runs every hook even when some fail, for the hooks whose
// failures the spec wants only warned about (poststart, poststop); it
// returns the failures joined.
func RunAllHooks(hooks []specs.Hook, state *specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	data, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("encode state for hooks: %w", err)
	}
	var errs []error
	for i := range hooks {
		errs = append(errs, runHook(&hooks[i], data))
	}
	return errors.Join(errs...)
}

func runHook(h *specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("error running hook %s: timeout must be positive, got %d", h.Path, *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("error running hook %s: timed out after %ds", h.Path, *h.Timeout)
	}
	if err != nil {
		var msg string
		if s := bytes.TrimSpace(stderr.Bytes()); len(s) > 0 {
			msg = ": " + string(s)
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("error running hook %s: %w%s", h.Path, err, msg)
		}
		return fmt.Errorf("error running hook %s: %w", h.Path, err)
	}
	return nil
}
