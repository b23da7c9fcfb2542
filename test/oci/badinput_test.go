package oci_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

// Each bad bundle must make create fail with a non-zero exit, and leave
// neither state nor process behind.
func TestCreateBadBundle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		break_  func(t *testing.T, c *ctr)
		mention string // the error must say this (case-insensitive), if set
	}{
		{"missingConfig", func(t *testing.T, c *ctr) {
			must(t, os.Remove(filepath.Join(c.bundle, "config.json")))
		}, "config.json"},
		{"malformedJSON", func(t *testing.T, c *ctr) {
			writeFile(t, filepath.Join(c.bundle, "config.json"), `{"ociVersion": "1.0.2", "process": {`)
		}, ""},
		{"missingRootfs", func(t *testing.T, c *ctr) {
			must(t, os.RemoveAll(c.rootfs()))
		}, ""},
		{"argsNotFound", func(t *testing.T, c *ctr) {
			c.args("/bin/no-such-program-xyz")
		}, "no-such-program-xyz"},
		{"argsNotInPath", func(t *testing.T, c *ctr) {
			c.args("no-such-program-xyz")
		}, "no-such-program-xyz"},
		{"noArgs", func(t *testing.T, c *ctr) {
			c.args()
		}, ""},
		{"cwdRelative", func(t *testing.T, c *ctr) {
			c.spec.Process.Cwd = "relative/dir"
			c.write()
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRT(t)
			c := newCtr(t, r).args("true")
			tc.break_(t, c)
			res := c.create()
			if res.code == 0 {
				t.Fatalf("create succeeded: %v", res)
			}
			if tc.mention != "" && !strings.Contains(strings.ToLower(res.stderr), strings.ToLower(tc.mention)) {
				t.Errorf("error does not mention %q: %v", tc.mention, res)
			}
			c.assertGone()
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCreateIDInUse(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	a := newCtr(t, r).args("sleep", "1000")
	a.mustCreate()
	before := a.state()
	b := newCtr(t, r).args("sleep", "1000")
	b.id = a.id
	if res := b.create(); res.code == 0 {
		t.Fatalf("second create with id %s succeeded: %v", a.id, res)
	}
	after := a.state()
	if after.Status != "created" || after.Pid != before.Pid || after.Bundle != a.bundle {
		t.Errorf("first container changed: %+v, was %+v", after, before)
	}
	assertNoProcs(t, b.bundle, "no-such-id")
	r.must("delete", a.id)
	a.assertGone()
}

func TestInvalidID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"../escape", "a/b", "..", "/abs"} {
		r := newRT(t)
		c := newCtr(t, r).args("true")
		c.id = id
		if res := c.create(); res.code == 0 {
			r.run("delete", "--force", id)
			t.Errorf("create with id %q succeeded: %v", id, res)
		}
		ents, _ := os.ReadDir(r.tmp)
		for _, e := range ents {
			if n := e.Name(); n == "escape" || n == "a" || n == "b" {
				t.Errorf("create with id %q left %s", id, filepath.Join(r.tmp, n))
			}
		}
	}
}

func TestStartTwice(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("sleep", "1000")
	c.start()
	r.fails("start", c.id)
	if st := c.state(); st.Status != "running" {
		t.Errorf("after a second start the container is %q", st.Status)
	}
}

func TestStartStopped(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("true")
	c.mustCreate()
	r.must("start", c.id)
	c.waitStatus("stopped")
	r.fails("start", c.id)
	r.must("delete", c.id)
	c.assertGone()
}

func TestDeleteRunningWithoutForce(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("sleep", "1000")
	st := c.start()
	r.fails("delete", c.id)
	if now := c.state(); now.Status != "running" || now.Pid != st.Pid || !alive(st.Pid) {
		t.Errorf("delete without --force changed the container: %+v", now)
	}
}

func TestUnknownID(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	id := testutil.UniqueName(t)
	for _, args := range [][]string{
		{"state", id},
		{"start", id},
		{"kill", id, "KILL"},
		{"delete", id},
		{"exec", id, "true"},
		{"pause", id},
		{"resume", id},
	} {
		res := r.fails(args...)
		if res.stderr == "" {
			t.Errorf("%v: failed without a message", args)
		}
	}
	// delete --force of an unknown container is not an error in runc, but it
	// must not create anything either.
	r.run("delete", "--force", id)
	assertNoState(t, r.root, id)
}

func TestExecNotRunning(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("true")
	c.mustCreate()
	r.must("start", c.id)
	c.waitStatus("stopped")
	r.fails("exec", c.id, "true")
}
