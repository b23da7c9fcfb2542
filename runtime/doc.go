// Package runtime is corral's OCI runtime, host side: it turns an OCI bundle
// into a container (create, start, state, kill, delete, exec), keeps the
// container's state under the runtime root directory and runs the hooks that
// belong to the runtime namespace. It knows nothing of images, networks or
// the daemon, exactly like runc.
package runtime
