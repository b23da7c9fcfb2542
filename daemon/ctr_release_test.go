package daemon

import (
	"testing"
	"time"
)

// A wait returns only once the release it waits for is done; waitAll
// says whether there was any.
func TestReleasesWait(t *testing.T) {
	var r releases
	if r.waitAll() {
		t.Fatal("waitAll with nothing under way said there was a release")
	}
	r.wait("a") // none under way: returns at once
	doneA, doneB := r.begin("a"), r.begin("b")
	waited := make(chan string, 3)
	go func() { r.wait("a"); waited <- "a" }()
	go func() { r.waitAll(); waited <- "all" }()
	select {
	case w := <-waited:
		t.Fatalf("wait %s returned before any release was done", w)
	case <-time.After(50 * time.Millisecond):
	}
	doneA()
	if w := <-waited; w != "a" {
		t.Fatalf("%s returned first, want a's wait", w)
	}
	select {
	case <-waited:
		t.Fatal("waitAll returned while b's release was under way")
	case <-time.After(50 * time.Millisecond):
	}
	doneB()
	if w := <-waited; w != "all" {
		t.Fatalf("got %s, want waitAll", w)
	}
	r.wait("b")
	if r.waitAll() {
		t.Error("releases left pending after their done")
	}
}
