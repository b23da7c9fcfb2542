package cgroups

import (
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// probeScript prints, for char devices 1:3, 1:5, 1:7, 1:8 and 1:9, whether
// they open for reading, for writing and for both, then whether 1:3 can be made with
// mknod in dir. Stderr is closed rather than sent to /dev/null, which may
// be among the denied devices.
func probeScript(dir string) string {
	return `for d in null zero full random urandom; do
	if (exec 3</dev/$d) 2>&-; then r=1; else r=0; fi
	if (exec 3>/dev/$d) 2>&-; then w=1; else w=0; fi
	if (exec 3<>/dev/$d) 2>&-; then rw=1; else rw=0; fi
	echo $d $r $w $rw
done
if mknod ` + dir + `/n c 1 3 2>&-; then echo mknod 1; rm -f ` + dir + `/n; else echo mknod 0; fi`
}

// expectedProbe is probeScript's output that s predicts.
func expectedProbe(s *devState) string {
	var b strings.Builder
	for _, d := range []struct {
		name  string
		minor int64
	}{{"null", 3}, {"zero", 5}, {"full", 7}, {"random", 8}, {"urandom", 9}} {
		fmt.Fprintf(&b, "%s %s %s %s\n", d.name, boolNum(s.allowed('c', 1, d.minor, accRead)),
			boolNum(s.allowed('c', 1, d.minor, accWrite)), boolNum(s.allowed('c', 1, d.minor, accRead|accWrite)))
	}
	fmt.Fprintf(&b, "mknod %s\n", boolNum(s.allowed('c', 1, 3, accMknod)))
	return b.String()
}

// probeCases are devCases plus rule lists that exercise the probe's devices.
func probeCases() []devCase {
	extra := []devCase{
		{name: "null only", rules: []specs.LinuxDeviceCgroup{devAllow("c", 1, 3, "rwm")}},
		{name: "read-only zero, mknod anything", rules: []specs.LinuxDeviceCgroup{
			devAllow("c", 1, 5, "r"), devAllow("c", -1, -1, "m")}},
		{name: "all of major 1 but full", rules: []specs.LinuxDeviceCgroup{
			devAllow("c", 1, -1, "rwm"), devDeny("c", 1, 7, "rwm")}},
		{name: "blacklist full and null writes", rules: []specs.LinuxDeviceCgroup{
			devAllow("a", -1, -1, "rwm"), devDeny("c", 1, 7, "rw"), devDeny("c", 1, 3, "w")}},
	}
	return append(extra, devCases...)
}

// withDenyAll is the state Set produces: deny everything, then the rules.
func withDenyAll(t *testing.T, c devCase) *devState {
	c.rules = append([]specs.LinuxDeviceCgroup{devDeny("a", -1, -1, "rwm")}, c.rules...)
	return c.state(t)
}

// TestDevicesV1Kernel applies each rule list with the v1 devices controller
// and checks that the kernel allows exactly what devState predicts, the
// model the v2 eBPF program is built from.
func TestDevicesV1Kernel(t *testing.T) {
	for _, c := range probeCases() {
		t.Run(c.name, func(t *testing.T) {
			m := createdManager(t)
			dir, ok := m.Paths()["devices"]
			if !ok {
				t.Skip("no v1 devices controller")
			}
			if err := m.Set(&specs.LinuxResources{Devices: c.rules}); err != nil {
				t.Fatal(err)
			}
			out, err := inCgroup(t, m, probeScript(t.TempDir()))
			if want := expectedProbe(withDenyAll(t, c)); err != nil || out != want {
				t.Errorf("v1 kernel: %v\n%s\nmodel:\n%s\ndevices.list:\n%s", err, out, want, readTrim(t, dir, "devices.list"))
			}
		})
	}
}

// TestDevicesBPF attaches the eBPF program to the container's cgroup on
// the cgroup2 hierarchy (present beside v1 here; the kernel runs device
// programs of a task's v2 cgroup on hybrid hosts too) and checks the same.
func TestDevicesBPF(t *testing.T) {
	for _, c := range probeCases() {
		t.Run(c.name, func(t *testing.T) {
			full := createdManager(t)
			dir, ok := full.Paths()[UnifiedKey]
			if !ok {
				t.Skip("no cgroup2 hierarchy")
			}
			m := Load(map[string]string{UnifiedKey: dir})
			if err := m.Set(&specs.LinuxResources{Devices: c.rules}); err != nil {
				t.Fatal(err)
			}
			out, err := inCgroup(t, m, probeScript(t.TempDir()))
			if want := expectedProbe(withDenyAll(t, c)); err != nil || out != want {
				t.Errorf("eBPF: %v\n%s\nmodel:\n%s", err, out, want)
			}
		})
	}
}

// TestDevicesBPFReplace: a second Set replaces the first program rather
// than adding to it (which would only ever narrow access).
func TestDevicesBPFReplace(t *testing.T) {
	full := createdManager(t)
	dir, ok := full.Paths()[UnifiedKey]
	if !ok {
		t.Skip("no cgroup2 hierarchy")
	}
	m := Load(map[string]string{UnifiedKey: dir})
	probe := "if (exec 3</dev/null) 2>&-; then echo yes; else echo no; fi"
	for _, step := range []struct {
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{[]specs.LinuxDeviceCgroup{devDeny("a", -1, -1, "rwm")}, "no\n"},
		{[]specs.LinuxDeviceCgroup{devAllow("c", 1, 3, "rwm")}, "yes\n"},
		{[]specs.LinuxDeviceCgroup{devAllow("c", 1, 5, "rwm")}, "no\n"},
	} {
		if err := m.Set(&specs.LinuxResources{Devices: step.rules}); err != nil {
			t.Fatal(err)
		}
		if out, err := inCgroup(t, m, probe); err != nil || out != step.want {
			t.Errorf("after %v: open /dev/null: %v %q, want %q", step.rules, err, out, step.want)
		}
	}
}
