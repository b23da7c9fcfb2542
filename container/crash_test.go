package container

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-dev/corral/errdefs"
)

// crashDirEnv, when set, makes TestCrashWriter the child of TestCrash: it
// rewrites one record in a loop until it is killed.
const crashDirEnv = "CORRAL_CONTAINER_CRASH_DIR"

// TestCrashWriter, in the child, opens the store in $CORRAL_CONTAINER_CRASH_DIR
// and updates its one container forever: label n counts the updates, and a
// large environment makes each write take a while. After each update it
// prints n, so the parent knows what is on disk for sure.
func TestCrashWriter(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child of TestCrash")
	}
	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	c := s.All()[0]
	big := strings.Repeat("x", 512)
	for n := 1; ; n++ {
		_, err := s.Update(ctx, c.ID, func(c *Container) error {
			c.Config.Labels["n"] = strconv.Itoa(n)
			c.Config.Env = make([]string, 8)
			for i := range c.Config.Env {
				c.Config.Env[i] = fmt.Sprintf("V%d=%d%s", i, n, big)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%d\n", n)
	}
}

// TestCrash kills a process that is rewriting a record with SIGKILL at
// random moments, then reopens the store: the record must be the last one
// the writer finished or the one it was writing, complete, and the
// temporary file of the interrupted write gone.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills subprocesses")
	}
	dir := t.TempDir()
	s := openStore(t, dir)
	c := mustCreate(t, s, NewID(), "crashy")
	s.Close()
	midWrite := 0
	for round := range 20 {
		acked := runAndKill(t, dir, time.Duration(rand.IntN(40))*time.Millisecond)
		left, _ := filepath.Glob(filepath.Join(dir, c.ID, tempPrefix+"*"))
		s, err := Open(context.Background(), dir)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		got, err := s.Get(c.ID)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		n, _ := strconv.Atoi(got.Config.Labels["n"])
		if n != acked && n != acked+1 {
			t.Fatalf("round %d: record has n=%d, the writer had finished %d", round, n, acked)
		}
		for i, e := range got.Config.Env {
			if !strings.HasPrefix(e, fmt.Sprintf("V%d=%d", i, n)) {
				t.Fatalf("round %d: record mixes updates: n=%d, env[%d]=%.20s", round, n, i, e)
			}
		}
		t.Logf("round %d: killed after %d writes, record n=%d, %d temporary file(s) left", round, acked, n, len(left))
		if n != acked || len(left) > 0 {
			midWrite++
		}
		rep := s.Recovered()
		if len(rep.Problems) != 0 || len(rep.Orphans) != 0 || rep.Loaded != 1 {
			t.Fatalf("round %d: report %+v", round, rep)
		}
		temps, _ := filepath.Glob(filepath.Join(s.Dir(c.ID), tempPrefix+"*"))
		if len(temps) != 0 {
			t.Fatalf("round %d: temporary files left: %v", round, temps)
		}
		s.Close()
		// The next round counts from 1 again: clear the counter.
		resetCounter(t, dir, c.ID)
	}
	t.Logf("%d of 20 kills interrupted a write", midWrite)
}

// runAndKill runs TestCrashWriter on dir, kills it with SIGKILL after
// delay once it has written at least once, and returns the last n it
// reported as written.
func runAndKill(t *testing.T, dir string, delay time.Duration) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan int, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if n, err := strconv.Atoi(sc.Text()); err == nil {
				lines <- n
			}
		}
	}()
	acked := 0
	select {
	case acked = <-lines:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the writer wrote nothing in 30s")
	}
	time.Sleep(delay)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for n := range lines {
		acked = n
	}
	cmd.Wait()
	return acked
}

func resetCounter(t *testing.T, dir, id string) {
	t.Helper()
	s := openStore(t, dir)
	if _, err := s.Update(context.Background(), id, func(c *Container) error {
		c.Config.Labels["n"], c.Config.Env = "0", nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestRecoverInterruptedWrites lays out what crashes at each step of the
// store's writes leave, and checks what Open makes of them.
func TestRecoverInterruptedWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	ok := mustCreate(t, s, NewID(), "ok")
	torn := mustCreate(t, s, NewID(), "torn")
	s.Close()

	// A write killed before its rename: a truncated temporary file.
	full, err := os.ReadFile(filepath.Join(s.Dir(torn.ID), recordFile))
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(s.Dir(torn.ID), tempPrefix+"123456")
	if err := os.WriteFile(tmp, full[:len(full)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	// A create killed between mkdir and the first record; a delete killed
	// after the record went.
	orphan := NewID()
	if err := os.MkdirAll(filepath.Join(dir, orphan, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A record damaged outside the store (never written by it).
	bad := NewID()
	if err := os.Mkdir(filepath.Join(dir, bad), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, bad, recordFile), []byte(`{"ID":`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Foreign entries are left alone.
	if err := os.WriteFile(filepath.Join(dir, "README"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, dir)
	rep := s2.Recovered()
	if rep.Loaded != 2 || len(rep.Orphans) != 1 || rep.Orphans[0] != orphan ||
		len(rep.Problems) != 1 || rep.Problems[0].ID != bad {
		t.Fatalf("report %+v", rep)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	for _, name := range []string{"ok", "torn"} {
		if _, err := s2.Get(name); err != nil {
			t.Errorf("Get(%s): %v", name, err)
		}
	}
	if err := s2.RemoveOrphan(ctx, ok.ID); !errdefs.IsConflict(err) {
		t.Errorf("RemoveOrphan of a stored container: %v", err)
	}
	if err := s2.RemoveOrphan(ctx, bad); !errdefs.IsConflict(err) {
		t.Errorf("RemoveOrphan of a damaged record: %v", err)
	}
	if err := s2.RemoveOrphan(ctx, "../x"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("RemoveOrphan(../x): %v", err)
	}
	if err := s2.RemoveOrphan(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, orphan)); !os.IsNotExist(err) {
		t.Errorf("orphan left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "README")); err != nil {
		t.Errorf("foreign file removed: %v", err)
	}
}

// TestRecoverDuplicateNames loads two records that claim one name (which
// the store never writes): the older keeps it, the newer gets a generated
// one, written back.
func TestRecoverDuplicateNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	older := newRecord(NewID(), "/same", t0)
	newer := newRecord(NewID(), "/same", t0.Add(time.Hour))
	invalid := newRecord(NewID(), "/x", t0.Add(2*time.Hour))
	for _, c := range []*Container{newer, older, invalid} {
		if err := os.Mkdir(filepath.Join(dir, c.ID), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := writeRecordOf(filepath.Join(dir, c.ID), c); err != nil {
			t.Fatal(err)
		}
	}
	s := openStore(t, dir)
	if got, err := s.Get("same"); err != nil || got.ID != older.ID {
		t.Fatalf("Get(same) = %v, %v; want the older", got, err)
	}
	renamed, _ := s.Get(newer.ID)
	fixed, _ := s.Get(invalid.ID)
	if renamed.Name == "/same" || fixed.Name == "/x" || len(s.Recovered().Problems) != 2 {
		t.Fatalf("names %s %s, report %+v", renamed.Name, fixed.Name, s.Recovered())
	}
	s.Close()
	s2 := openStore(t, dir)
	if got, _ := s2.Get(newer.ID); got.Name != renamed.Name || len(s2.Recovered().Problems) != 0 {
		t.Errorf("the new name was not written back: %s, %+v", got.Name, s2.Recovered())
	}
}

func writeRecordOf(dir string, c *Container) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return writeRecord(dir, data)
}
