package cli

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestSigProxyEarlyAndStop: a signal the command gets once catching has
// begun but before the container exists reaches the container when the
// forwarding starts; after stop, signals are still caught (the command is
// not killed) but no longer forwarded.
func TestSigProxyEarlyAndStop(t *testing.T) {
	f := newCtrFake(t)
	p := catchSignals()
	<-p.caught
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	stop := p.forward(context.Background(), f, ctrID)
	select {
	case sig := <-f.killed:
		if sig != "USR2" {
			t.Errorf("forwarded %q, want USR2", sig)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the early SIGUSR2 was not forwarded")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGCHLD); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case sig := <-f.killed:
		t.Errorf("forwarded %q after stop (or SIGCHLD)", sig)
	case <-time.After(200 * time.Millisecond):
	}
}
