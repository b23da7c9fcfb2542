package oci_test

import (
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/creack/pty"
)

// TestTerminalRunTypedAhead runs a container with a terminal in the
// foreground, the runtime's stdin a terminal of the test's own in canonical
// mode that already holds input, as under script(1) in runc's bats tests:
// script sends an end of file (^D) when its own input is empty. Made raw
// with it pending, that terminal hands the end of file on as a NUL byte,
// which the container's terminal echoed into the output as "^@" (a flaky
// mounts.bats failure when it landed after the last line). Complete lines
// typed ahead must still reach the container.
func TestTerminalRunTypedAhead(t *testing.T) {
	t.Parallel()
	skipIfRunc(t, "runc 1.1.5 passes a pending end of file on as a NUL, echoed as ^@")
	for _, tc := range []struct{ name, typed, script, want string }{
		{"eof", "\x04", "sleep 0.5; echo ok", "ok\r\n"},
		{"line-eof", "line\n\x04", `read -r l; echo "got:$l"`, "got:line\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := runTypedAhead(t, tc.typed, tc.script)
			if strings.Contains(out, "^@") || strings.Contains(out, "\x00") {
				t.Errorf("output has a NUL or its echo: %q", out)
			}
			if !strings.HasSuffix(out, tc.want) {
				t.Errorf("output %q, want it to end with %q", out, tc.want)
			}
		})
	}
}

// runTypedAhead writes typed into a fresh terminal, then runs script in a
// container with a terminal, the runtime's stdin (and controlling
// terminal) being that terminal; it returns the runtime's stdout.
func runTypedAhead(t *testing.T, typed, script string) string {
	t.Helper()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Process.Terminal = true
	c.args("sh", "-c", script)
	master, slave, err := pty.Open()
	must(t, err)
	defer master.Close()
	defer slave.Close()
	go func() { _, _ = io.Copy(io.Discard, master) }() // our terminal's echo
	if _, err := master.Write([]byte(typed)); err != nil {
		t.Fatal(err)
	}
	res := c.runC(func(cmd *exec.Cmd) {
		cmd.Stdin = slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	})
	if res.code != 0 {
		t.Fatalf("run: %v", res)
	}
	return res.stdout
}
