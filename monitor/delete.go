package monitor

import (
	"context"
	"fmt"

	"github.com/corral-dev/corral/runtime"
)

// DeleteFromRuntime removes container id from the runtime whose state root
// is root ("" for runtime.DefaultRoot), in this process: what the monitor
// runs `corral-runc delete --force` for, without starting one. It is how
// the exit of a container whose monitor ran with Config.NoDelete is
// finished. A container the runtime does not know, or no longer knows, is
// no error.
func DeleteFromRuntime(ctx context.Context, root, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if root == "" {
		root = runtime.DefaultRoot
	}
	r := &runtime.Runtime{Root: root}
	if err := r.Delete(ctx, id, true); err != nil {
		return fmt.Errorf("delete %s from the runtime: %w", id, err)
	}
	return nil
}
