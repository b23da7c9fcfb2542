package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestExec(t *testing.T) {
	f := newCtrFake(t)
	f.proc = echoProc
	out, errOut, code := runCLI(f, "in\n", "exec", "-i", "web", "cat")
	if code != 3 || out != "in\nhello\n" || errOut != "oops\n" {
		t.Errorf("exec -i: exit %d, out %q, err %q", code, out, errOut)
	}
	want := "inspect web\n" +
		`exec create web {"User":"","Privileged":false,"Tty":false,"AttachStdin":true,"AttachStderr":true,` +
		`"AttachStdout":true,"DetachKeys":"","Env":null,"WorkingDir":"","Cmd":["cat"]}` + "\n" +
		`exec start e1 {"Detach":false,"Tty":false}` + "\n" +
		"exec inspect e1"
	if got := f.callList(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
}

func TestExecOptions(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "env")
	writeFile(t, envFile, "FROM_FILE=1\n")
	f := newCtrFake(t)
	out, errOut, code := runCLI(f, "", "exec", "-d", "-u", "1000", "-w", "/w", "--privileged", "-e", "A=1",
		"--env-file", envFile, "--detach-keys", "ctrl-x", "web", "sh", "-c", "true")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("exec -d: exit %d, out %q, err %q", code, out, errOut)
	}
	req := f.execReq
	b, _ := json.Marshal(req)
	if req.User != "1000" || req.WorkingDir != "/w" || !req.Privileged || strings.Join(req.Env, ",") != "FROM_FILE=1,A=1" ||
		req.DetachKeys != "ctrl-x" || strings.Join(req.Cmd, " ") != "sh -c true" || req.AttachStdout || req.AttachStdin {
		t.Errorf("exec request %s", b)
	}
	if !strings.Contains(f.callList(), `exec start e1 {"Detach":true,"Tty":false}`) || strings.Contains(f.callList(), "exec inspect") {
		t.Errorf("calls:\n%s", f.callList())
	}

	_, errOut, code = runCLI(newCtrFake(t), "", "exec", "nosuch", "ls")
	if code != 1 || errOut != "Error response from daemon: No such container: nosuch\n" {
		t.Errorf("exec in a missing container: exit %d, %q", code, errOut)
	}
	_, errOut, code = runCLI(newCtrFake(t), "", "exec", "-it", "web", "sh")
	if code != 1 || errOut != "the input device is not a TTY\n" {
		t.Errorf("exec -it without a terminal: exit %d, %q", code, errOut)
	}
	_, errOut, code = runCLI(newCtrFake(t), "", "exec", "web")
	if code != 1 || !strings.HasPrefix(errOut, "corral: 'corral exec' requires at least 2 arguments") {
		t.Errorf("exec without a command: exit %d, %q", code, errOut)
	}
}

// TestExecTTY runs exec -it on a terminal: the exec is created with the
// terminal's size, resized to it after start, its output raw.
func TestExecTTY(t *testing.T) {
	_, tty := openPTY(t, 40, 120)
	f := newCtrFake(t)
	f.proc = echoProc
	var errb strings.Builder
	code := Main([]string{"exec", "-t", "web", "sh"}, Options{
		Connect: func(ctx context.Context, _ Globals) (ImageAPI, error) { return f, nil },
		In:      tty, Out: tty, Err: &errb,
	})
	if code != 3 || errb.String() != "" {
		t.Errorf("exec -t: exit %d, %q", code, errb.String())
	}
	calls := f.callList()
	if !strings.Contains(calls, `"Tty":true,"ConsoleSize":[40,120]`) || !strings.Contains(calls, `exec start e1 {"Detach":false,"Tty":true,"ConsoleSize":[40,120]}`) ||
		!strings.Contains(calls, "exec resize e1 40x120") {
		t.Errorf("calls:\n%s", calls)
	}
}
