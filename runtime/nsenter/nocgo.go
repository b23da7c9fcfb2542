//go:build !cgo

package nsenter

// linked is false without cgo: nothing would answer a Request, so WriteTo
// refuses to send one rather than leave Await waiting forever.
const linked = false
