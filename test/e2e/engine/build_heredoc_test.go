package engine_test

import (
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

// TestBuildRunHeredoc: RUN <<EOF whose script starts with #! runs as a
// file under its interpreter (options included), without one it runs
// with the shell; COPY <<EOF makes a file.
func TestBuildRunHeredoc(t *testing.T) {
	e := newEngine(t)
	df := "FROM busybox\nRUN <<EOF\n#!/bin/awk -f\nBEGIN { print \"awk-ran\" > \"/awk\" }\nEOF\n" +
		"RUN <<EOF\necho \"shell $0\" > /sh\nEOF\n" +
		"RUN <<-EOT\n\t#!/bin/sh\n\techo \"$0\" > /script-name\n\tEOT\n" +
		"COPY <<EOF /etc/motd\nhello\nEOF\n"
	tag := strings.ToLower(testutil.UniqueName(t)) + ":1"
	if r := e.build(t, "-t", tag, writeContext(t, map[string]string{"Dockerfile": df})); r.code != 0 {
		t.Fatalf("%v", r)
	}
	out := e.ok(t, "run", "--rm", tag, "cat", "/awk", "/sh", "/script-name", "/etc/motd")
	if want := "awk-ran\nshell /bin/sh\n/dev/pipes/EOT\nhello\n"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	// The interpreter's options count: sh -e stops at the first failure.
	bad := "FROM busybox\nRUN <<EOF\n#!/bin/sh -e\nfalse\necho still-running\nEOF\n"
	r := e.build(t, "-t", tag+"-bad", writeContext(t, map[string]string{"Dockerfile": bad}))
	if r.code == 0 || strings.Contains(r.stdout, "still-running") || !strings.Contains(r.stdout+r.stderr, "non-zero code: 1") {
		t.Errorf("#!/bin/sh -e: %v", r)
	}
}
