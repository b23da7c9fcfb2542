// Package nsenter joins existing namespaces before the Go runtime starts.
//
// Go cannot setns(2) into a mount or user namespace once it has started
// threads, so a C constructor linked into the corral binary runs first when
// the environment variable named by Env holds a file descriptor number. It
// reads a Request from that descriptor, joins (user first, mount last) and
// unshares the requested namespaces, writes the offsets of a new time
// namespace, forks when the pid namespace changed or a time namespace was
// unshared, reports the pid of the process that goes on (Await reads it),
// and returns to Go's normal start-up. This is the only package in corral
// that uses cgo.
//
// A binary gets the constructor by importing this package (a blank import
// will do) and being built with cgo. Without Env the constructor returns at
// once, so it costs other commands nothing measurable.
//
// # Use
//
// The runtime makes a socketpair, passes one end to the child (for example
// as ExtraFiles[0], so Env is "3"), starts it, sends the Request with
// WriteTo and calls Await on its end. After Await returns, the same socket
// carries the JSON-lines protocol of runtime/nsinit: the constructor reads
// exactly its request and leaves nothing behind, and it keeps the descriptor
// open for Go. Env is removed from the environment before Go starts, so
// neither Go nor what it executes sees it (the process's own
// /proc/<pid>/environ, a copy of its initial environment, still shows it).
//
// When the pid namespace is joined or unshared, only children enter it, so
// the constructor forks. So it does after unsharing a time namespace: its
// offsets can be written only before a process enters it, and execve enters
// a process's time_for_children only since Linux 6.2, so a fork is the way in
// on every kernel with time namespaces (5.6 on). Then the process the
// runtime started reports the
// child's pid and exits with status 0 (the runtime must still wait for it),
// and the child goes on into Go. That grandchild becomes the runtime's child,
// and can be waited for, only if the runtime set PR_SET_CHILD_SUBREAPER
// (prctl(2)) before starting the process; otherwise it is re-parented to
// init. The pid Await returns is in the pid namespace of the process the
// runtime started, normally the runtime's own.
//
// After joining a user namespace the constructor takes uid and gid 0 in it
// (and drops supplementary groups where setgroups is allowed); when it
// unshares one, it asks the runtime to write the id maps first. It unshares
// the user namespace before the others, so that it owns them: a process that
// later joins the container's user namespace (exec) can then join its time
// namespace as well.
//
// On any failure the constructor reports the step and the system error, for
// example "setns net /proc/123/ns/net: Operation not permitted", and exits
// with status 1 without ever entering Go.
//
// # Wire format
//
// Request (runtime to constructor): a header line "CORRAL-NSENTER <n>\n"
// followed by exactly n bytes (at most 64 KiB) of lines: "join <type>
// <path>\n" per namespace to join (the path runs to the end of the line),
// "unshare <decimal CLONE_NEW* flags>\n" and, only with CLONE_NEWTIME, one
// "timens <monotonic|boottime> <secs> <nanosecs>\n" per clock to shift.
//
// Replies (constructor to runtime), one line each: "maps <pid>\n" asks for
// the id maps of pid, answered by the runtime with "ack\n" (or "abort\n");
// "error <message>\n" ends with a failure; "pid <pid>\n" ends with success.
package nsenter
