package runtime

import "errors"

// Error classes callers can test with errors.Is.
var (
	ErrNotExist  = errors.New("container does not exist")
	ErrExist     = errors.New("container already exists")
	ErrBadState  = errors.New("container is in the wrong state")
	ErrBadConfig = errors.New("invalid configuration")
)
