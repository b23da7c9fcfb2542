package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/moby/api/types/jsonstream"
)

func TestRunSequence(t *testing.T) {
	f := newCtrFake(t)
	f.proc = echoProc
	out, errOut, code := runCLI(f, "", "run", "--name", "web", "busybox", "echo", "hi")
	if code != 3 || out != "hello\n" || errOut != "oops\n" {
		t.Errorf("run: exit %d, out %q, err %q", code, out, errOut)
	}
	// docker's order: attach and wait before start.
	want := "create name=web platform= image=busybox\n" +
		"attach " + ctrID + " stream=true stdin=false stdout=true stderr=true keys=\n" +
		"wait " + ctrID + " next-exit\n" +
		"start " + ctrID
	if got := f.callList(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
	cfg := f.created.Config
	if strings.Join(cfg.Cmd, " ") != "echo hi" || !cfg.AttachStdout || !cfg.AttachStderr || cfg.AttachStdin || cfg.OpenStdin {
		t.Errorf("config: %+v", cfg)
	}
}

// TestRunStdinHalfClose is `echo data | corral run -i --rm busybox cat`:
// the process gets the input, then its end, and its output still arrives.
func TestRunStdinHalfClose(t *testing.T) {
	f := newCtrFake(t)
	f.proc = echoProc
	out, errOut, code := runCLI(f, "data\n", "run", "-i", "--rm", "busybox", "cat")
	if code != 3 || out != "data\nhello\n" || errOut != "oops\n" {
		t.Errorf("run -i: exit %d, out %q, err %q", code, out, errOut)
	}
	if !strings.Contains(f.callList(), "attach "+ctrID+" stream=true stdin=true stdout=true stderr=true") ||
		!strings.Contains(f.callList(), "wait "+ctrID+" removed") {
		t.Errorf("calls:\n%s", f.callList())
	}
	cfg := f.created.Config
	if !cfg.OpenStdin || !cfg.StdinOnce || !cfg.AttachStdin || !f.created.HostConfig.AutoRemove {
		t.Errorf("config %+v host %+v", cfg, f.created.HostConfig)
	}
}

func TestRunDetached(t *testing.T) {
	f := newCtrFake(t)
	out, errOut, code := runCLI(f, "", "run", "-d", "--rm", "busybox", "sleep", "9")
	if code != 0 || out != ctrID+"\n" || errOut != "" {
		t.Errorf("run -d: exit %d, out %q, err %q", code, out, errOut)
	}
	want := "create name= platform= image=busybox\nwait " + ctrID + " removed\nstart " + ctrID
	if got := f.callList(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
	cfg := f.created.Config
	if cfg.AttachStdout || cfg.AttachStderr || cfg.AttachStdin {
		t.Errorf("detached config attaches: %+v", cfg)
	}
	_, errOut, code = runCLI(newCtrFake(t), "", "run", "-d", "-a", "stdout", "busybox")
	if code != 1 || errOut != "conflicting options: cannot specify both --attach and --detach\n" {
		t.Errorf("-d -a: exit %d, %q", code, errOut)
	}
}

func TestRunPullsMissingImage(t *testing.T) {
	f := newCtrFake(t)
	f.present = false
	f.stream = []jsonstream.Message{{Status: "Pulling from library/busybox", ID: "latest"},
		{Status: "Status: Downloaded newer image for busybox:latest"}}
	out, errOut, code := runCLI(f, "", "run", "-d", "busybox")
	wantErr := "Unable to find image 'busybox:latest' locally\n" +
		"latest: Pulling from library/busybox\nStatus: Downloaded newer image for busybox:latest\n"
	if code != 0 || out != ctrID+"\n" || errOut != wantErr {
		t.Errorf("run of a missing image: exit %d, out %q, err %q", code, out, errOut)
	}
	if !strings.HasPrefix(f.callList(), "create name= platform= image=busybox\npull busybox\ncreate name=") {
		t.Errorf("calls:\n%s", f.callList())
	}

	f = newCtrFake(t)
	f.present = false
	_, errOut, code = runCLI(f, "", "run", "--pull=never", "busybox")
	if code != 125 || errOut != "corral: Error response from daemon: No such image: busybox:latest\n\n"+
		"Run 'corral run --help' for more information\n" {
		t.Errorf("--pull=never: exit %d, %q", code, errOut)
	}

	f = newCtrFake(t)
	_, errOut, code = runCLI(f, "", "run", "-d", "-q", "--pull=always", "--platform", "linux/arm64", "busybox")
	if code != 0 || errOut != "" || !strings.HasPrefix(f.callList(), "pull busybox\ncreate name= platform=linux/arm64") {
		t.Errorf("--pull=always: exit %d, %q, calls:\n%s", code, errOut, f.callList())
	}

	_, errOut, code = runCLI(newCtrFake(t), "", "create", "--pull=sometimes", "busybox")
	if code != 125 || errOut != `corral: invalid pull option: 'sometimes': must be one of "always", "missing" or "never"`+
		"\n\nRun 'corral create --help' for more information\n" {
		t.Errorf("--pull=sometimes: exit %d, %q", code, errOut)
	}
}

// TestRunExitCodes checks docker's codes for a failed start: 127 for a
// command not found, 126 for one that cannot run, 125 for the rest.
func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		err  string
		code int
	}{
		{`failed to create task: exec: "nosuch": executable file not found in $PATH`, 127},
		{`exec /bin/x: no such file or directory`, 127},
		{`exec /etc: permission denied`, 126},
		{`exec /etc: is a directory`, 126},
		{`cannot start a stopped process`, 125},
	}
	for _, tt := range tests {
		f := newCtrFake(t)
		f.startErr = errors.New("Error response from daemon: " + tt.err)
		out, errOut, code := runCLI(f, "", "run", "busybox")
		want := "corral: Error response from daemon: " + tt.err + "\n\nRun 'corral run --help' for more information\n"
		if code != tt.code || errOut != want || out != "" {
			t.Errorf("start failing with %q: exit %d, out %q, err %q", tt.err, code, out, errOut)
		}
	}
}

func TestCreate(t *testing.T) {
	f := newCtrFake(t)
	out, errOut, code := runCLI(f, "", "create", "-t", "-i", "--name", "web", "busybox", "sh")
	if code != 0 || out != ctrID+"\n" || errOut != "" {
		t.Errorf("create: exit %d, out %q, err %q", code, out, errOut)
	}
	cfg := f.created.Config
	if !cfg.Tty || !cfg.OpenStdin || !cfg.StdinOnce || !cfg.AttachStdin || f.created.Name != "web" {
		t.Errorf("create -it: %+v", cfg)
	}
	f = newCtrFake(t)
	f.present = false
	_, errOut, code = runCLI(f, "", "create", "--pull", "never", "busybox")
	if code != 1 || errOut != "Error response from daemon: No such image: busybox:latest\n" {
		t.Errorf("create --pull never: exit %d, %q", code, errOut)
	}
	_, errOut, code = runCLI(newCtrFake(t), "", "create", "--dns", "127.0.0.1", "busybox")
	if code != 0 || errOut != "WARNING: Localhost DNS (127.0.0.1) may fail in containers.\n" {
		t.Errorf("create --dns 127.0.0.1: exit %d, %q", code, errOut)
	}
}

// TestCIDFile: --cidfile gets the new container's ID; a file that exists
// is refused before anything is created; a failed create leaves no file.
func TestCIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cid")
	f := newCtrFake(t)
	if _, errOut, code := runCLI(f, "", "run", "-d", "--cidfile", path, "busybox"); code != 0 {
		t.Fatalf("run --cidfile: exit %d, %q", code, errOut)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != ctrID {
		t.Errorf("cidfile holds %q, %v; want the ID", b, err)
	}
	if f.created.HostConfig.ContainerIDFile != path {
		t.Errorf("HostConfig.ContainerIDFile = %q", f.created.HostConfig.ContainerIDFile)
	}
	f = newCtrFake(t)
	_, errOut, code := runCLI(f, "", "create", "--cidfile", path, "busybox")
	want := "container ID file found, make sure the other container isn't running or delete " + path + "\n"
	if code == 0 || errOut != want || f.callList() != "" {
		t.Errorf("create with an existing cidfile: exit %d, %q, calls %q", code, errOut, f.callList())
	}
	os.Remove(path)
	f = newCtrFake(t)
	f.present = false
	if _, _, code := runCLI(f, "", "run", "--pull=never", "--cidfile", path, "busybox"); code != 125 {
		t.Errorf("run of a missing image: exit %d", code)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed create left its cidfile: %v", err)
	}
}

func TestRunNeedsTerminalForTTY(t *testing.T) {
	f := newCtrFake(t)
	_, errOut, code := runCLI(f, "", "run", "-it", "busybox")
	if code != 1 || errOut != "the input device is not a TTY\n" || f.callList() != "" {
		t.Errorf("run -it without a terminal: exit %d, %q, calls %q", code, errOut, f.callList())
	}
}

// TestRunSigProxy sends the test itself a signal while a container runs:
// run forwards it to the container, whose exit code run exits with.
func TestRunSigProxy(t *testing.T) {
	f := newCtrFake(t)
	f.proc = func(f *ctrFake, _ io.Reader, stdout, _ io.Writer) int {
		if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
			t.Error(err)
		}
		sig := <-f.killed
		_, _ = io.WriteString(stdout, "got "+sig+"\n")
		return 138
	}
	out, _, code := runCLI(f, "", "run", "busybox", "sleep", "9")
	if code != 138 || out != "got USR1\n" {
		t.Errorf("run with a signal: exit %d, out %q", code, out)
	}
	if !strings.Contains(f.callList(), "kill "+ctrID+" USR1") {
		t.Errorf("calls:\n%s", f.callList())
	}
}

// interrupted is the cause of a context a signal ended.
type interrupted struct{}

func (interrupted) Error() string { return "interrupted" }
func (interrupted) ExitCode() int { return 130 }

// TestRunInterrupted checks that a run interrupted while it pulls exits
// with the signal's code, without docker's hint.
func TestRunInterrupted(t *testing.T) {
	f := newCtrFake(t)
	f.present = false
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(interrupted{})
	var out, errb bytes.Buffer
	code := Main([]string{"run", "busybox"}, Options{
		Connect:     func(context.Context, Globals) (ImageAPI, error) { return f, nil },
		Credentials: func() (Credentials, error) { return &fakeCreds{}, nil },
		In:          strings.NewReader(""), Out: &out, Err: &errb, Context: ctx,
	})
	if code != 130 || errb.String() != "Unable to find image 'busybox:latest' locally\n" {
		t.Errorf("interrupted run: exit %d, err %q", code, errb.String())
	}
}
