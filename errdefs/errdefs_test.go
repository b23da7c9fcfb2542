package errdefs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func TestWrapKeepsCauseAndClass(t *testing.T) {
	err := fmt.Errorf("open blob: %w", errdefs.NotFound(fs.ErrNotExist))
	if !errdefs.IsNotFound(err) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("class or cause lost: %v", err)
	}
	if errdefs.IsConflict(err) {
		t.Fatal("wrong class matched")
	}
	if err.Error() != "open blob: file does not exist" {
		t.Fatalf("message %q", err.Error())
	}
	if errdefs.Wrap(errdefs.ErrConflict, nil) != nil {
		t.Fatal("Wrap(nil) must be nil")
	}
}
