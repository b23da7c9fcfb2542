// Package errdefs defines corral's error classes. Code anywhere marks an
// error with a class (errdefs.NotFound, errdefs.InvalidArgument, ...) and the
// API server maps each class to one HTTP status; callers test a class with
// errors.Is(err, errdefs.ErrNotFound) or the Is* helpers.
package errdefs

import "errors"

// The classes. Wrap a cause with one using Wrap or the helpers below, or use
// a class directly as the %w of fmt.Errorf.
var (
	ErrNotFound        = errors.New("not found")
	ErrAlreadyExists   = errors.New("already exists")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrConflict        = errors.New("conflict")
	ErrUnavailable     = errors.New("unavailable")
	ErrUnauthorized    = errors.New("unauthorized")
	ErrForbidden       = errors.New("forbidden")
	ErrNotImplemented  = errors.New("not implemented")
	ErrNotModified     = errors.New("not modified")
	ErrCanceled        = errors.New("canceled")
)

// classed is an error marked with a class: its message is the cause's, and
// errors.Is matches both the class and anything in the cause's chain.
type classed struct {
	cause error
	class error
}

func (e classed) Error() string   { return e.cause.Error() }
func (e classed) Unwrap() []error { return []error{e.cause, e.class} }

// Wrap marks err with class; a nil err stays nil.
func Wrap(class, err error) error {
	if err == nil {
		return nil
	}
	return classed{cause: err, class: class}
}

// NotFound marks err as ErrNotFound.
func NotFound(err error) error { return Wrap(ErrNotFound, err) }

// AlreadyExists marks err as ErrAlreadyExists.
func AlreadyExists(err error) error { return Wrap(ErrAlreadyExists, err) }

// InvalidArgument marks err as ErrInvalidArgument.
func InvalidArgument(err error) error { return Wrap(ErrInvalidArgument, err) }

// Conflict marks err as ErrConflict.
func Conflict(err error) error { return Wrap(ErrConflict, err) }

// Unavailable marks err as ErrUnavailable.
func Unavailable(err error) error { return Wrap(ErrUnavailable, err) }

// Unauthorized marks err as ErrUnauthorized.
func Unauthorized(err error) error { return Wrap(ErrUnauthorized, err) }

// IsNotFound reports whether err is of class ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsAlreadyExists reports whether err is of class ErrAlreadyExists.
func IsAlreadyExists(err error) bool { return errors.Is(err, ErrAlreadyExists) }

// IsInvalidArgument reports whether err is of class ErrInvalidArgument.
func IsInvalidArgument(err error) bool { return errors.Is(err, ErrInvalidArgument) }

// IsConflict reports whether err is of class ErrConflict.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }
