package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// runEngine runs corral's command line against the engine on sock with
// stdin in, as Main does. Until cli.go adds containerGroupCommands under
// "container", it adds them itself (with the hidden -h every command
// gets).
func runEngine(sock, in string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	opts := Options{Connect: connectTo(sock), In: strings.NewReader(in), Out: &out, Err: &errb}
	if len(args) == 0 || args[0] != "container" || wiredGroup() {
		code := Main(args, opts)
		return out.String(), errb.String(), code
	}
	c := newCLI(opts)
	root := c.rootCommand()
	group, _, _ := root.Find([]string{"container"})
	for _, cmd := range c.containerGroupCommands() {
		cmd.DisableFlagsInUseLine = true
		cmd.Flags().BoolP("help", "h", false, "Print usage")
		_ = cmd.Flags().MarkHidden("help")
		group.AddCommand(cmd)
	}
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	_ = c.close()
	code := exitCode(c, err)
	return out.String(), errb.String(), code
}

// wiredGroup reports whether "container ls" is in the tree already.
func wiredGroup() bool {
	root := newCLI(Options{}).rootCommand()
	cmd, _, err := root.Find([]string{"container", "ls"})
	return err == nil && cmd.Name() == "ls"
}

// exitCode maps a command's error as Main does.
func exitCode(c *cli, err error) int {
	if err == nil {
		return 0
	}
	var se statusError
	if errors.As(err, &se) {
		if se.msg != "" {
			c.err.Write([]byte(se.msg + "\n"))
		}
		return se.code
	}
	c.err.Write([]byte(err.Error() + "\n"))
	return 1
}

// parityCase is a command line run by both CLIs; in is stdin, part keeps
// only the part of the output both should print the same (the engine's
// part of version and info).
type parityCase struct {
	args []string
	in   string
	part func(string) string
}

func pcase(a ...string) parityCase { return parityCase{args: a} }

// fromServer is the output from its "Server:" line on.
func fromServer(s string) string {
	if i := strings.Index(s, "Server:"); i >= 0 {
		return s[i:]
	}
	return s
}

// withoutClientInfo is info's JSON without the client's half (its last
// field).
func withoutClientInfo(s string) string {
	if i := strings.Index(s, `,"ClientInfo":`); i >= 0 {
		return s[:i]
	}
	return s
}

var manageParityCases = []parityCase{
	pcase("ps"), pcase("ps", "-a"), pcase("ps", "-a", "--no-trunc"), pcase("ps", "-q"), pcase("ps", "-aq"),
	pcase("ps", "-a", "-s"), pcase("ps", "-n", "2"), pcase("ps", "-n", "0"), pcase("ps", "-l"), pcase("ps", "-a", "--format", "json"),
	pcase("ps", "-a", "--format", `table {{.Names}}\t{{.Labels}}\t{{.Label "app"}}\t{{.Mounts}}\t{{.LocalVolumes}}\t{{.Networks}}`),
	pcase("ps", "-a", "--format", "{{.ID}} {{.Size}}"), pcase("ps", "-a", "--format", "raw"), pcase("ps", "-a", "-s", "--format", "raw"),
	pcase("ps", "-a", "--format", "table {{.ID}}\t{{.Platform}}\t{{.State}}\t{{.CreatedAt}}\t{{.Ports}}"),
	pcase("ps", "--format", "{{.Nope}}"), pcase("ps", "--format", "{{"), pcase("ps", "-q", "--format", "{{.Names}}"),
	pcase("ps", "-a", "--filter", "status=exited"), pcase("ps", "--filter", "bogus=1"), pcase("ps", "--filter", "nokey"),
	pcase("ps", "x"), pcase("ps", "-a", "--format", "{{json .Names}} {{upper .Image}} {{truncate .Command 5}}"),
	pcase("ps", "--help"),
	pcase("container", "ls", "-a"), pcase("container", "list", "-q"), pcase("container", "ps", "--format", "{{.Names}}"),
	pcase("container", "inspect", "web"), pcase("container", "inspect", "-s", "db", "nope"), pcase("container", "inspect"),
	pcase("inspect", "web"), pcase("inspect", "web", "db"), pcase("inspect", "-s", "db"), pcase("inspect", "busybox"),
	pcase("inspect", "-f", "{{.Name}} {{.State.Status}} {{json .Config.Labels}}", "web", "db"), pcase("inspect", "-f", "json", "web"),
	pcase("inspect", "nope"), pcase("inspect", "web", "nope"), pcase("inspect", "--type", "container", "busybox"),
	pcase("inspect", "--type", "image", "web"), pcase("inspect", "--type", "bogus", "web"), pcase("inspect", "--type=", "web"),
	pcase("inspect", "-s", "busybox"), pcase("inspect", "-f", "{{.Nope}}", "web"), pcase("inspect", "-f", "{{", "web"),
	pcase("inspect", "--type", "service", "web"), pcase("inspect", "UPPER"), pcase("inspect"),
	pcase("stop", "web"), pcase("stop", "-t", "5", "-s", "HUP", "web", "db"), pcase("stop", "down"), pcase("stop", "nope", "web"),
	pcase("stop", "--time", "3", "--timeout", "4", "web"), pcase("stop"), pcase("stop", "--time", "3", "web"), pcase("stop", ""),
	pcase("kill", "web"), pcase("kill", "-s", "USR1", "web", "nope"), pcase("restart", "web", "nope", "db"), pcase("restart", "-t", "0", "down"),
	pcase("rm", "db"), pcase("rm", "-f", "nope", "web"), pcase("rm", "-fv", "web"), pcase("rm", "-l", "web"), pcase("rm", "busy"),
	pcase("rm", "/"), pcase("rm", "nope", "db"), pcase("container", "rm", "db"), pcase("container", "remove", "db"),
	pcase("pause", "web", "nope"), pcase("unpause", "wörk"), pcase("container", "pause", "web"),
	pcase("rename", "web", "web2"), pcase("rename", "db", "web"), pcase("rename", " ", "x"), pcase("rename", "a"), pcase("rename", "nope", "x"),
	pcase("top", "web"), pcase("top", "web", "aux", "-x"), pcase("top", "nope"), pcase("top"),
	pcase("port", "web"), pcase("port", "web", "80"), pcase("port", "web", "80/tcp"), pcase("port", "web", "53/udp"), pcase("port", "web", "443"),
	pcase("port", "web", "xyz"), pcase("port", "web", "1", "2"), pcase("port", "nope"), pcase("port", "web", "9"),
	pcase("update", "--memory", "10m", "--memory-swap", "-1", "--cpus", "1.5", "--cpu-shares", "512", "--cpuset-cpus", "0",
		"--pids-limit", "10", "--restart", "on-failure:3", "web"),
	pcase("update", "web"), pcase("update", "--cpus", "1.23456789012", "web"), pcase("update", "--restart", ":3", "web"),
	pcase("update", "--restart", "on-failure:x", "web"), pcase("update", "-m", "1x", "web"), pcase("update", "--pids-limit", "-1", "web", "nope"),
	pcase("update", "-m", "1g", "web", "db"), pcase("update", "--help"),
	pcase("container", "prune", "-f"), pcase("container", "prune", "-f", "--filter", "label=x"), pcase("container", "prune", "--filter", "nokey"),
	pcase("container", "prune", "-f", "--filter", "bogus=1"), {args: []string{"container", "prune"}, in: "y\n"},
	{args: []string{"container", "prune"}, in: "n\n"}, {args: []string{"container", "prune"}}, pcase("container", "prune", "x"),
	pcase("stats", "--no-stream"), pcase("stats", "--no-stream", "-a"), pcase("stats", "--no-stream", "web", "db"),
	pcase("stats", "--no-stream", "--no-trunc", "web"), pcase("stats", "--no-stream", "--format", "json", "web"),
	pcase("stats", "--no-stream", "--format", "table {{.Container}}\t{{.Name}}\t{{.MemUsage}}", "web"),
	pcase("stats", "--no-stream", "web", "nope"), pcase("stats", "--no-stream", "--format", "{{.Nope}}", "web"),
	pcase("events", "--since", "1699999999", "--until", "1700000005"), pcase("events", "--since", "1700000001.5", "--until", "1700000003"),
	pcase("events", "--since", "1", "--until", "1700000005", "--filter", "type=container"), pcase("events", "--since", "1", "--until", "1700000005", "--format", "json"),
	pcase("events", "--since", "1", "--until", "1700000005", "--format", "{{.Type}} {{.Action}} {{.ID}} {{.Status}} {{.From}}"),
	pcase("events", "--format", "{{.Nope}}"), pcase("events", "--format", "{{"), pcase("events", "--since", "1", "--until", "1700000005", "--filter", "bogus=1"),
	pcase("events", "--since", "xyz"), pcase("events", "--since", "2023-11-14T22:13:21Z", "--until", "2023-11-14T22:13:23.5Z"),
	pcase("system", "events", "--since", "1", "--until", "1700000005", "-f", "event=die"), pcase("events", "--since", "2023-13-01"),
	{args: []string{"info"}, part: fromServer}, pcase("info", "--format", "{{.Containers}} {{.NCPU}} {{.Name}}"),
	pcase("info", "-f", "{{json .Plugins}}"), pcase("info", "--format", "{{.ClientInfo.Context}}"), pcase("info", "--format", "{{"),
	pcase("system", "info", "--format", "{{.ServerVersion}}"), {args: []string{"info", "--format", "json"}, part: withoutClientInfo},
	pcase("info", "x"),
	{args: []string{"version"}, part: fromServer}, pcase("version", "--format", "{{.Server.Version}} {{.Server.APIVersion}} {{.Client.Context}}"),
	pcase("version", "-f", "{{json .Server}}"), pcase("version", "-f", "{{"), pcase("version", "x"),
	pcase("stop", "--help"), pcase("restart", "--help"), pcase("kill", "--help"), pcase("rm", "--help"), pcase("rename", "--help"),
	pcase("pause", "--help"), pcase("unpause", "--help"), pcase("top", "--help"), pcase("port", "--help"), pcase("stats", "--help"),
	pcase("inspect", "--help"), pcase("container", "inspect", "--help"), pcase("container", "ls", "--help"),
	pcase("container", "prune", "--help"), pcase("events", "--help"), pcase("info", "--help"), pcase("version", "--help"),
	pcase("system", "events", "--help"), pcase("container", "stop", "--help"),
}

// knownParityDifferences are the cases where corral's output differs
// from docker's on purpose, and why.
var knownParityDifferences = map[string]string{}

// normalize makes docker's output comparable with corral's: the program's
// name, and type names in template errors.
func normalize(s string) string {
	keep := strings.NewReplacer(`"docker swarm init" or "docker swarm join"`, "\x00", "docs.docker.com", "\x01", "docker.io", "\x02")
	back := strings.NewReplacer("\x00", `"docker swarm init" or "docker swarm join"`, "\x01", "docs.docker.com", "\x02", "docker.io")
	s = strings.NewReplacer("docker", "corral", "Docker objects", "corral objects", "Docker version", "corral version").Replace(keep.Replace(s))
	s = back.Replace(s)
	// The two CLIs run a moment apart: "30 seconds ago" may become 31.
	s = secondsAgo.ReplaceAllString(s, "N seconds ago")
	return typeName.ReplaceAllString(s, "type *T")
}

var secondsAgo = regexp.MustCompile(`\b\d+ seconds ago`)

func TestDockerParityManage(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("no docker CLI installed")
	}
	f := newEngineFake()
	sock := serveEngine(t, f)
	env := append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(t.TempDir(), "config"),
		"DOCKER_CLI_HINTS=false", "DOCKER_CLI_EXPERIMENTAL=", "DOCKER_CONTENT_TRUST=")
	for _, tc := range manageParityCases {
		name := strings.Join(tc.args, " ")
		t.Run(name, func(t *testing.T) {
			if why, ok := knownParityDifferences[name]; ok {
				t.Skip(why)
			}
			cmd := exec.Command(docker, tc.args...)
			cmd.Env, cmd.Stdin = env, strings.NewReader(tc.in)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			wantCode := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				wantCode = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			wantCalls := withoutRacyCalls(tc.args, f.takeNotes())
			gotOut, gotErr, gotCode := runEngine(sock, tc.in, tc.args...)
			gotCalls := withoutRacyCalls(tc.args, f.takeNotes())
			wantOut, wantErr := normalize(out.String()), normalize(errb.String())
			gotErr = typeName.ReplaceAllString(gotErr, "type *T")
			gotOut = secondsAgo.ReplaceAllString(gotOut, "N seconds ago")
			if tc.part != nil {
				wantOut, gotOut = tc.part(wantOut), tc.part(gotOut)
			}
			if gotOut != wantOut || gotErr != wantErr || gotCode != wantCode {
				t.Errorf("docker %v:\n--- docker (exit %d)\n%s[stderr]\n%s--- corral (exit %d)\n%s[stderr]\n%s",
					tc.args, wantCode, wantOut, wantErr, gotCode, gotOut, gotErr)
			}
			if !reflect.DeepEqual(sortedCopy(gotCalls), sortedCopy(wantCalls)) {
				t.Errorf("engine calls:\n docker %q\n corral %q", wantCalls, gotCalls)
			}
		})
	}
}

func sortedCopy(s []string) string {
	c := append([]string(nil), s...)
	return sortLines(strings.Join(c, "\n"))
}

// withoutRacyCalls drops the events subscription of docker's `stats
// --no-stream` over all containers: the CLI opens it on a goroutine of its
// own while it lists, and exits without waiting for it, so whether it
// reaches the engine depends on the machine's load.
func withoutRacyCalls(args []string, calls []string) []string {
	if len(args) == 0 || args[0] != "stats" {
		return calls
	}
	return slices.DeleteFunc(calls, func(c string) bool { return strings.HasPrefix(c, "events ") })
}
