package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/corral-dev/corral/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// loadedBundle is a bundle's config read and checked: the spec, the absolute
// rootfs path and its seccomp filter, being compiled (nil without
// linux.seccomp).
type loadedBundle struct {
	spec    *specs.Spec
	rootfs  string
	seccomp *pendingFilter
}

// pendingFilter is linux.seccomp compiled on a goroutine of its own: a
// Docker profile takes about as long as making the cgroups, which it
// overlaps. Its errors are config errors all the same, found before init
// runs anything of the container (runc compiles the profile in its init).
type pendingFilter struct {
	done chan struct{}
	p    *seccomp.Program
	err  error
}

// compileAhead begins compiling c; nil when c is nil.
func compileAhead(c *specs.LinuxSeccomp) *pendingFilter {
	if c == nil {
		return nil
	}
	f := &pendingFilter{done: make(chan struct{})}
	go func() {
		f.p, f.err = seccomp.Compile(c)
		close(f.done)
	}()
	return f
}

// wait returns the compiled filter (nil for a nil f) or the config error.
func (f *pendingFilter) wait() (*seccomp.Program, error) {
	if f == nil {
		return nil, nil
	}
	<-f.done
	if f.err != nil {
		return nil, fmt.Errorf("%w: linux.seccomp: %v", ErrBadConfig, f.err)
	}
	return f.p, nil
}

// loadBundle reads and checks bundle/config.json.
func loadBundle(bundle string) (*loadedBundle, error) {
	if bundle == "" {
		bundle = "."
	}
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	b, err := os.ReadFile(filepath.Join(abs, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read bundle config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var spec specs.Spec
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("%w: parse %s: %v", ErrBadConfig, filepath.Join(abs, "config.json"), err)
	}
	if err := checkSpec(&spec); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	absBindSources(&spec, abs)
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(abs, rootfs)
	}
	st, err := os.Stat(rootfs)
	if err != nil {
		return nil, fmt.Errorf("%w: root.path: %v", ErrBadConfig, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: root.path %s is not a directory", ErrBadConfig, rootfs)
	}
	return &loadedBundle{spec: &spec, rootfs: rootfs, seccomp: compileAhead(spec.Linux.Seccomp)}, nil
}

var nsTypes = map[specs.LinuxNamespaceType]bool{
	specs.PIDNamespace: true, specs.NetworkNamespace: true, specs.MountNamespace: true,
	specs.IPCNamespace: true, specs.UTSNamespace: true, specs.UserNamespace: true,
	specs.CgroupNamespace: true, specs.TimeNamespace: true,
}

// checkSpec rejects configurations the runtime cannot run, naming the field.
// linux.seccomp is checked by compiling it (compileAhead).
func checkSpec(s *specs.Spec) error {
	switch {
	case s.Version == "":
		return errors.New("ociVersion is missing")
	case s.Root == nil || s.Root.Path == "":
		return errors.New("root.path is missing")
	case s.Process == nil:
		return errors.New("process is missing")
	case len(s.Process.Args) == 0 || s.Process.Args[0] == "":
		return errors.New("process.args must name a program")
	case s.Process.Cwd != "" && !filepath.IsAbs(s.Process.Cwd):
		return fmt.Errorf("process.cwd %q must be absolute", s.Process.Cwd)
	case s.Linux == nil:
		return errors.New("linux section is missing")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range s.Linux.Namespaces {
		if !nsTypes[ns.Type] {
			return fmt.Errorf("linux.namespaces: unknown type %q", ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("linux.namespaces: %s is listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fmt.Errorf("linux.namespaces: %s path %q must be absolute", ns.Type, ns.Path)
		}
	}
	if seen[specs.UserNamespace] && (len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0) && !joinsUserNS(s) {
		return errors.New("linux.uidMappings and linux.gidMappings are required with a new user namespace")
	}
	for i, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("mounts[%d]: destination %q must be absolute", i, m.Destination)
		}
	}
	return nil
}

func joinsUserNS(s *specs.Spec) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace && ns.Path != "" {
			return true
		}
	}
	return false
}

// absBindSources makes relative bind sources relative to the bundle, as the
// spec says, instead of to whatever directory init runs in.
func absBindSources(s *specs.Spec, bundle string) {
	for i := range s.Mounts {
		m := &s.Mounts[i]
		if m.Source == "" || filepath.IsAbs(m.Source) || !isBindMount(m) {
			continue
		}
		m.Source = filepath.Join(bundle, m.Source)
	}
}

func isBindMount(m *specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}
