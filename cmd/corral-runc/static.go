package main

// corral-runc is linked statically: every runtime command, and the init of
// every container, is a process of this binary, and a dynamically linked
// one spends about half a millisecond in the dynamic loader at each start
// (relocations, libc's start-up), of about three. runc's releases are
// static too. The net package's cgo resolver, linked in but never called
// (the runtime dials only unix sockets, and netdns=go in main.go keeps any
// name lookup in Go), makes the linker warn that getaddrinfo would need
// glibc's shared libraries at run time. Nothing here may call into the C
// library's NSS (os/user with cgo, archive/tar's name lookups): a static
// glibc can crash loading its modules.

// #cgo LDFLAGS: -static
import "C"
