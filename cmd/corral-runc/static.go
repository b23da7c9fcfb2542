package main

// corral-runc is linked statically: every runtime command, and the init of
// every container, is a process of this binary, and a dynamically linked
// one spends about half a millisecond in the dynamic loader at each start
// (relocations, libc's start-up), of about three. runc's releases are
// static too. The net package's cgo resolver, linked in but never called
// (the runtime dials only unix sockets), makes the linker warn that
// getaddrinfo would need glibc's shared libraries at run time.

// #cgo LDFLAGS: -static
import "C"
