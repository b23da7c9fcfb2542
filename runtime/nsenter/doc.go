// Package nsenter joins existing namespaces before the Go runtime starts.
//
// Go cannot setns(2) into a mount or user namespace once it has started
// threads, so a C constructor linked into the corral binary runs first when
// the environment variable named by Env holds a file descriptor number. It
// reads a Request from that descriptor, joins (user first, mount last) and
// unshares the requested namespaces, forks when the pid namespace changed,
// reports the pid of the process that goes on (Await reads it), and returns
// to Go's normal start-up. This is the only package in corral that uses cgo.
package nsenter
