package container

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
	"github.com/moby/moby/api/types/container"
)

func TestParsePS(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		pids    []int
		want    container.TopResponse
		wantErr string
	}{
		{
			name: "-ef",
			out: "UID        PID  PPID  C STIME TTY          TIME CMD\n" +
				"root         1     0  0 07:45 ?        00:01:41 /sbin/init splash\n" +
				"root       300     1  0 07:46 ?        00:00:00 sh -c sleep 100\n" +
				"root       301   300  0 07:46 ?        00:00:00 sleep 100\n",
			pids: []int{300, 301},
			want: container.TopResponse{
				Titles: []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"},
				Processes: [][]string{
					{"root", "300", "1", "0", "07:46", "?", "00:00:00", "sh -c sleep 100"},
					{"root", "301", "300", "0", "07:46", "?", "00:00:00", "sleep 100"},
				},
			},
		},
		{
			name: "aux, PID second, %-titles",
			out: "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n" +
				"nobody        42  0.0  0.0   1636   4 ?        Ss   07:46   0:00 nginx: master process\n",
			pids: []int{42},
			want: container.TopResponse{
				Titles:    []string{"USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT", "START", "TIME", "COMMAND"},
				Processes: [][]string{{"nobody", "42", "0.0", "0.0", "1636", "4", "?", "Ss", "07:46", "0:00", "nginx: master process"}},
			},
		},
		{
			name: "-o pid,args: PID first, tabs and a Unicode space kept in the command",
			out:  "    PID COMMAND\n     7 echo\ta\u3000b  c\n     8 other\n",
			pids: []int{7},
			want: container.TopResponse{
				Titles:    []string{"PID", "COMMAND"},
				Processes: [][]string{{"7", "echo a\u3000b c"}},
			},
		},
		{
			name: "threads (m) follow their process only",
			out: "    PID TTY      STAT   TIME COMMAND\n" +
				"     5 ?        -      0:00 other\n" +
				"      - -        Sl     0:00 -\n" +
				"     9 ?        -      0:00 server\n" +
				"      - -        Sl     0:00 -\n" +
				"      - -        Sl     0:00 -\n",
			pids: []int{9},
			want: container.TopResponse{
				Titles: []string{"PID", "TTY", "STAT", "TIME", "COMMAND"},
				Processes: [][]string{
					{"9", "?", "-", "0:00", "server"},
					{"-", "-", "Sl", "0:00", "-"},
					{"-", "-", "Sl", "0:00", "-"},
				},
			},
		},
		{
			name: "a short row is padded",
			out:  "PID USER CMD\n3 root\n",
			pids: []int{3},
			want: container.TopResponse{Titles: []string{"PID", "USER", "CMD"}, Processes: [][]string{{"3", "root", ""}}},
		},
		{
			name: "no process of the container",
			out:  "PID CMD\n1 init\n",
			pids: []int{2},
			want: container.TopResponse{Titles: []string{"PID", "CMD"}},
		},
		{name: "no PID column", out: "USER COMMAND\nroot init\n", wantErr: "Couldn't find PID field in ps output"},
		{name: "renamed column", out: "PIDS CMD\n1 init\n", wantErr: "Couldn't find PID field in ps output"},
		{name: "empty output", out: "", wantErr: "Couldn't find PID field in ps output"},
		{name: "not a pid", out: "PID CMD\nabc init\n", wantErr: "Unexpected pid 'abc'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePS([]byte(tt.out), tt.pids)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parsePS =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestValidatePSArgs(t *testing.T) {
	for args, ok := range map[string]bool{
		"-ef": true, "aux": true, "-o pid,args": true, "-o pid=PID,args": true, "-o pid= PID": true,
		"-o user=PID": false, "-o pid,comm=PIDX": false, "-ef -o ppid=PID": false,
	} {
		err := validatePSArgs(args)
		if (err == nil) != ok {
			t.Errorf("validatePSArgs(%q) = %v, want ok %v", args, err, ok)
		}
		if err != nil && !errdefs.IsInvalidArgument(err) {
			t.Errorf("validatePSArgs(%q) = %v, not InvalidArgument", args, err)
		}
	}
}

// fakePS writes a ps that logs its argv, one argument a line, then runs
// script (sh); it answers the program and the log.
func fakePS(t *testing.T, script string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "argv")
	ps := filepath.Join(dir, "ps")
	body := "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\" >>" + log + "; done\necho --- >>" + log + "\n" + script
	if err := os.WriteFile(ps, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return ps, log
}

const fakeOutput = `printf 'UID PID CMD\nroot 10 sh -c x\nroot 11 top\n'`

func TestTopRunsPS(t *testing.T) {
	tests := []struct {
		name, psArgs, script string
		wantArgv             string
		wantRows             int
		wantErr              string
	}{
		{name: "default -ef, quick pids", script: fakeOutput,
			wantArgv: "[-ef]\n[-q10,12]\n---\n", wantRows: 1},
		{name: "arguments split at every space", psArgs: "-o pid,args  x", script: fakeOutput,
			wantArgv: "[-o]\n[pid,args]\n[]\n[x]\n[-q10,12]\n---\n", wantRows: 1},
		{name: "-q refused: again without it", psArgs: "-ef f",
			script:   `case "$*" in *-q*) echo 'error: forest' >&2; exit 1;; esac; ` + fakeOutput,
			wantArgv: "[-ef]\n[f]\n[-q10,12]\n---\n[-ef]\n[f]\n---\n", wantRows: 1},
		{name: "ps fails: its first stderr line", psArgs: "-Z",
			script:   `printf 'error: garbage option\n\nUsage:\n' >&2; exit 1`,
			wantArgv: "[-Z]\n[-q10,12]\n---\n[-Z]\n---\n", wantErr: "ps: error: garbage option"},
		{name: "ps fails silently", script: `exit 3`,
			wantArgv: "[-ef]\n[-q10,12]\n---\n[-ef]\n---\n", wantErr: "ps: exit status 3"},
		{name: "no PID column", script: `echo 'USER CMD'`,
			wantArgv: "[-ef]\n[-q10,12]\n---\n", wantErr: "Couldn't find PID field"},
		{name: "renamed column refused before ps runs", psArgs: "-o user=PID",
			wantErr: `specifying "user=PID" is not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, log := fakePS(t, tt.script)
			got, err := top(context.Background(), ps, []int{10, 12}, tt.psArgs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil || len(got.Processes) != tt.wantRows {
				t.Errorf("top = %q, %v; want %d rows", got.Processes, err, tt.wantRows)
			}
			argv, _ := os.ReadFile(log)
			if string(argv) != tt.wantArgv {
				t.Errorf("ps argv =\n%s\nwant\n%s", argv, tt.wantArgv)
			}
		})
	}
}

func TestTopNoPS(t *testing.T) {
	_, err := top(context.Background(), filepath.Join(t.TempDir(), "ps"), []int{1}, "")
	if err == nil || !strings.HasPrefix(err.Error(), "ps: ") {
		t.Errorf("top without ps: %v", err)
	}
}

func TestTopCanceled(t *testing.T) {
	ps, log := fakePS(t, fakeOutput)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := top(ctx, ps, []int{10}, ""); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("top with a canceled context: %v", err)
	}
	if argv, _ := os.ReadFile(log); len(argv) != 0 {
		t.Errorf("ps ran: %s", argv)
	}
}

// TestTopHostPS runs the host's ps on a child of the test, with the quick
// pid selection and with a forest listing, which ps refuses with -q.
func TestTopHostPS(t *testing.T) {
	if _, err := exec.LookPath("ps"); err != nil {
		t.Skip("no ps on this host")
	}
	child := exec.Command("sleep", "1000")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	})
	pid := strconv.Itoa(child.Process.Pid)
	// the forest's prefix depends on how deep the test runs: "| \_ sleep"
	for _, tt := range []struct{ psArgs, wantCmd string }{
		{"", "sleep 1000"}, {"-o pid,args", "sleep 1000"}, {"-ef f", `\_ sleep 1000`}, {"aux", "sleep 1000"},
	} {
		got, err := Top(context.Background(), []int{child.Process.Pid}, tt.psArgs)
		if err != nil {
			t.Fatalf("Top(%q): %v", tt.psArgs, err)
		}
		col := slices.Index(got.Titles, "PID")
		if len(got.Processes) != 1 || got.Processes[0][col] != pid {
			t.Fatalf("Top(%q) = %q, want the row of %s", tt.psArgs, got, pid)
		}
		row := got.Processes[0]
		if last := row[len(row)-1]; last != tt.wantCmd && !strings.HasSuffix(last, " "+tt.wantCmd) {
			t.Errorf("Top(%q) command = %q, want %q", tt.psArgs, last, tt.wantCmd)
		}
	}
}
