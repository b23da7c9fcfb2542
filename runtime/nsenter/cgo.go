//go:build cgo

package nsenter

// The constructor lives in nsenter.c; importing "C" links it into every
// binary that imports this package.

/*
#cgo CFLAGS: -Wall -Wextra
*/
import "C"

// linked reports whether the constructor is part of this binary.
const linked = true
