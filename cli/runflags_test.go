package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// parseArgs parses run's container flags and IMAGE [CMD...] as run does.
func parseArgs(t *testing.T, args ...string) (map[string]any, error) {
	t.Helper()
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetInterspersed(false)
	f := addContainerFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	rest := fs.Args()
	opts, err := parseContainer(fs, f, rest[0], rest[1:])
	if err != nil {
		return nil, err
	}
	// The create request's JSON, as the client sends it.
	b, err := json.Marshal(map[string]any{"Config": opts.Config, "HostConfig": opts.HostConfig,
		"NetworkingConfig": opts.NetworkingConfig})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc, nil
}

// field is the JSON of the value at a dotted path (Config.Env) of doc.
func field(doc map[string]any, path string) string {
	var v any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "<no " + path + ">"
		}
		if v, ok = m[k]; !ok {
			return "<no " + path + ">"
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRunFlagsTable checks docker's flags against the Config, HostConfig
// and NetworkingConfig JSON they make.
func TestRunFlagsTable(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	labelFile := filepath.Join(dir, "labels")
	seccomp := filepath.Join(dir, "seccomp.json")
	writeFile(t, envFile, "\ufeff# comment\nFROM_FILE=1\n\n  SPACED=x y\nCORRAL_TEST_FROM_ENV\nCORRAL_TEST_UNSET\n")
	writeFile(t, labelFile, "team=db\nbare\n")
	writeFile(t, seccomp, "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n")
	t.Setenv("CORRAL_TEST_FROM_ENV", "yes")
	tests := []struct {
		args []string
		want map[string]string
	}{
		{[]string{"busybox"}, map[string]string{
			"Config.Image": `"busybox"`, "Config.Cmd": "null", "Config.AttachStdout": "true", "Config.AttachStderr": "true",
			"Config.AttachStdin": "false", "Config.Volumes": "{}", "Config.Labels": "{}", "Config.ExposedPorts": "<no Config.ExposedPorts>",
			"HostConfig.NetworkMode": `"default"`, "HostConfig.RestartPolicy": `{"Name":"no","MaximumRetryCount":0}`,
			"HostConfig.MemorySwappiness": "-1", "HostConfig.PidsLimit": "0", "HostConfig.OomKillDisable": "false",
			"HostConfig.Dns": "[]", "HostConfig.DnsSearch": "[]", "HostConfig.DnsOptions": "[]", "HostConfig.Devices": "[]",
			"HostConfig.Ulimits": "[]", "HostConfig.LogConfig": `{"Type":"","Config":{}}`, "HostConfig.Init": "<no HostConfig.Init>",
			"HostConfig.PortBindings": "{}", "HostConfig.ConsoleSize": "[0,0]",
			"NetworkingConfig.EndpointsConfig.default.Aliases": "null"}},
		{[]string{"-m", "1g", "--memory-swap", "-1", "--memory-reservation", "512m", "--cpus", "1.5", "-c", "512",
			"--cpuset-cpus", "0-1", "--cpuset-mems", "0", "--pids-limit", "100", "--oom-kill-disable", "--shm-size", "64m",
			"busybox"}, map[string]string{
			"HostConfig.Memory": "1073741824", "HostConfig.MemorySwap": "-1", "HostConfig.MemoryReservation": "536870912",
			"HostConfig.NanoCpus": "1500000000", "HostConfig.CpuShares": "512", "HostConfig.CpusetCpus": `"0-1"`,
			"HostConfig.CpusetMems": `"0"`, "HostConfig.PidsLimit": "100", "HostConfig.OomKillDisable": "true",
			"HostConfig.ShmSize": "67108864"}},
		{[]string{"--ulimit", "nofile=1024:2048", "--ulimit", "nproc=64", "--ulimit", "nofile=10:20", "busybox"}, map[string]string{
			"HostConfig.Ulimits": `[{"Name":"nofile","Hard":20,"Soft":10},{"Name":"nproc","Hard":64,"Soft":64}]`}},
		{[]string{"--cap-add", "net_admin", "--cap-drop", "ALL", "--privileged", "--read-only", "--group-add", "audio",
			"--security-opt", "no-new-privileges", "--security-opt", "seccomp=unconfined", "--security-opt", "seccomp=" + seccomp,
			"busybox"}, map[string]string{
			"HostConfig.CapAdd": `["net_admin"]`, "HostConfig.CapDrop": `["ALL"]`, "HostConfig.Privileged": "true",
			"HostConfig.ReadonlyRootfs": "true", "HostConfig.GroupAdd": `["audio"]`,
			"HostConfig.SecurityOpt": `["no-new-privileges","seccomp=unconfined","seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"]`,
			"HostConfig.MaskedPaths": "null"}},
		{[]string{"--security-opt", "systempaths=unconfined", "busybox"}, map[string]string{
			"HostConfig.SecurityOpt": "null", "HostConfig.MaskedPaths": "[]", "HostConfig.ReadonlyPaths": "[]"}},
		{[]string{"--stop-signal", "SIGUSR1", "--stop-timeout", "5", "--init", "--restart", "on-failure:3", "busybox"}, map[string]string{
			"Config.StopSignal": `"SIGUSR1"`, "Config.StopTimeout": "5", "HostConfig.Init": "true",
			"HostConfig.RestartPolicy": `{"Name":"on-failure","MaximumRetryCount":3}`}},
		{[]string{"--init=false", "--stop-timeout", "0", "busybox"}, map[string]string{
			"HostConfig.Init": "false", "Config.StopTimeout": "0"}},
		{[]string{"--network", "none", "busybox"}, map[string]string{
			"HostConfig.NetworkMode": `"none"`, "NetworkingConfig.EndpointsConfig": "{}"}},
		{[]string{"--net", "host", "busybox"}, map[string]string{"HostConfig.NetworkMode": `"host"`}},
		{[]string{"--network", "name=front,alias=web,ip=10.1.0.5", "--network", "back", "busybox"}, map[string]string{
			"HostConfig.NetworkMode": `"front"`, "NetworkingConfig.EndpointsConfig.front.Aliases": `["web"]`,
			"NetworkingConfig.EndpointsConfig.front.IPAMConfig": `{"IPv4Address":"10.1.0.5"}`,
			"NetworkingConfig.EndpointsConfig.back.Aliases":     "null"}},
		{[]string{"--device", "/dev/fuse", "--device", "/dev/sda:/dev/xvda:r", "--device", "/dev/null:rw", "busybox"}, map[string]string{
			"HostConfig.Devices": `[{"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwm"},` +
				`{"PathOnHost":"/dev/sda","PathInContainer":"/dev/xvda","CgroupPermissions":"r"},` +
				`{"PathOnHost":"/dev/null","PathInContainer":"/dev/null","CgroupPermissions":"rw"}]`}},
		{[]string{"--device", "vendor.com/gpu=0", "busybox"}, map[string]string{
			"HostConfig.Devices": "[]", "HostConfig.DeviceRequests": `[{"Driver":"cdi","Count":0,"DeviceIDs":["vendor.com/gpu=0"],"Capabilities":null,"Options":null}]`}},
		{[]string{"--tmpfs", "/run:rw,size=64m", "--tmpfs", "/tmp", "--sysctl", "net.ipv4.ip_forward=1", "busybox"}, map[string]string{
			"HostConfig.Tmpfs": `{"/run":"rw,size=64m","/tmp":""}`, "HostConfig.Sysctls": `{"net.ipv4.ip_forward":"1"}`}},
		{[]string{"--dns", "8.8.8.8", "--dns", "::1", "--dns-search", "example.com", "--dns-option", "ndots:2",
			"--add-host", "db:10.0.0.2", "--add-host", "v6=[::1]", "--add-host", "gw:host-gateway", "busybox"}, map[string]string{
			"HostConfig.Dns": `["8.8.8.8","::1"]`, "HostConfig.DnsSearch": `["example.com"]`, "HostConfig.DnsOptions": `["ndots:2"]`,
			"HostConfig.ExtraHosts": `["db:10.0.0.2","v6:::1","gw:host-gateway"]`}},
		{[]string{"--ipc", "host", "--pid", "host", "--uts", "host", "--cgroupns", "private", "--userns", "host", "busybox"}, map[string]string{
			"HostConfig.IpcMode": `"host"`, "HostConfig.PidMode": `"host"`, "HostConfig.UTSMode": `"host"`,
			"HostConfig.CgroupnsMode": `"private"`, "HostConfig.UsernsMode": `"host"`}},
		{[]string{"-v", "/src:/dst:ro", "-v", "/anon", "-v", "named:/data", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m",
			"--mount", "type=bind,src=/h,dst=/c,readonly,bind-propagation=rslave", "--volumes-from", "other:ro", "busybox"}, map[string]string{
			"HostConfig.Binds": `["/src:/dst:ro","named:/data"]`, "Config.Volumes": `{"/anon":{}}`,
			"HostConfig.Mounts": `[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576}},` +
				`{"Type":"bind","Source":"/h","Target":"/c","ReadOnly":true,"BindOptions":{"Propagation":"rslave"}}]`,
			"HostConfig.VolumesFrom": `["other:ro"]`}},
		{[]string{"--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3", "busybox"}, map[string]string{
			"HostConfig.LogConfig": `{"Type":"json-file","Config":{"max-file":"3","max-size":"10m"}}`}},
		{[]string{"--health-cmd", "true", "--health-interval", "5s", "--health-retries", "3", "--health-timeout", "1s",
			"--health-start-period", "2s", "--health-start-interval", "1s", "busybox"}, map[string]string{
			"Config.Healthcheck": `{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Timeout":1000000000,` +
				`"StartPeriod":2000000000,"StartInterval":1000000000,"Retries":3}`}},
		{[]string{"--no-healthcheck", "busybox"}, map[string]string{"Config.Healthcheck": `{"Test":["NONE"]}`}},
		{[]string{"-p", "8080:80", "-p", "127.0.0.1:5353:53/udp", "-p", "[::1]:9000-9001:9000-9001", "-p", "7000",
			"-p", "published=8443,target=443", "--expose", "6000-6001", "--expose", "5000/udp", "-P", "busybox"}, map[string]string{
			"Config.ExposedPorts": `{"443/tcp":{},"5000/udp":{},"53/udp":{},"6000/tcp":{},"6001/tcp":{},"7000/tcp":{},` +
				`"80/tcp":{},"9000/tcp":{},"9001/tcp":{}}`,
			"HostConfig.PortBindings": `{"443/tcp":[{"HostIp":"","HostPort":"8443"}],"53/udp":[{"HostIp":"127.0.0.1","HostPort":"5353"}],` +
				`"7000/tcp":[{"HostIp":"","HostPort":""}],"80/tcp":[{"HostIp":"","HostPort":"8080"}],` +
				`"9000/tcp":[{"HostIp":"::1","HostPort":"9000"}],"9001/tcp":[{"HostIp":"::1","HostPort":"9001"}]}`,
			"HostConfig.PublishAllPorts": "true"}},
		{[]string{"-p", "8000-8010:80", "busybox"}, map[string]string{
			"HostConfig.PortBindings": `{"80/tcp":[{"HostIp":"","HostPort":"8000-8010"}]}`}},
		{[]string{"-e", "A=B", "-e", "CORRAL_TEST_FROM_ENV", "-e", "CORRAL_TEST_UNSET", "--env-file", envFile,
			"-l", "a=b", "--label-file", labelFile, "busybox"}, map[string]string{
			"Config.Env":    `["FROM_FILE=1","SPACED=x y","CORRAL_TEST_FROM_ENV=yes","A=B","CORRAL_TEST_FROM_ENV=yes","CORRAL_TEST_UNSET"]`,
			"Config.Labels": `{"a":"b","team":"db"}`}}, // a bare name in a label file is dropped
		{[]string{"--entrypoint", "/bin/sh", "-w", "/tmp", "-u", "1000:1000", "--hostname", "h", "--domainname", "d",
			"busybox", "-c", "echo hi"}, map[string]string{
			"Config.Entrypoint": `["/bin/sh"]`, "Config.Cmd": `["-c","echo hi"]`, "Config.WorkingDir": `"/tmp"`,
			"Config.User": `"1000:1000"`, "Config.Hostname": `"h"`, "Config.Domainname": `"d"`}},
		{[]string{"--entrypoint", "", "busybox"}, map[string]string{"Config.Entrypoint": `[""]`}},
		{[]string{"-i", "-t", "busybox"}, map[string]string{
			"Config.AttachStdin": "true", "Config.OpenStdin": "true", "Config.StdinOnce": "true", "Config.Tty": "true"}},
		{[]string{"-a", "STDOUT", "-a", "stdin", "busybox"}, map[string]string{
			"Config.AttachStdin": "true", "Config.AttachStdout": "true", "Config.AttachStderr": "false",
			"Config.OpenStdin": "false", "Config.StdinOnce": "false"}},
		{[]string{"--rm", "--runtime", "runc", "--annotation", "a=b", "--storage-opt", "size=1G", "busybox"}, map[string]string{
			"HostConfig.AutoRemove": "true", "HostConfig.Runtime": `"runc"`, "HostConfig.Annotations": `{"a":"b"}`,
			"HostConfig.StorageOpt": `{"size":"1G"}`}},
	}
	for _, tt := range tests {
		doc, err := parseArgs(t, tt.args...)
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		for path, want := range tt.want {
			if got := field(doc, path); got != canonical(want) {
				t.Errorf("%q: %s = %s, want %s", tt.args, path, got, want)
			}
		}
	}
}

// canonical is JSON with its keys sorted, as field answers it.
func canonical(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRunFlagErrors checks docker's answers to bad values: the flag's own
// error (exit 125 with the usage hint), or the parse's (exit 125 with
// "Run 'corral run --help'"), or the run's (exit 1).
func TestRunFlagErrors(t *testing.T) {
	usage := "\n\nUsage:  corral run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'corral run --help' for more information\n"
	hint := "\n\nRun 'corral run --help' for more information\n"
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"-m", "abc"}, 125, `invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'` + usage},
		{[]string{"--memory-swap", "x"}, 125, `invalid argument "x" for "--memory-swap" flag: invalid size: 'x'` + usage},
		{[]string{"--cpus", "x"}, 125, `invalid argument "x" for "--cpus" flag: failed to parse x as a rational number` + usage},
		{[]string{"--cpus", "0.0000000001"}, 125, `invalid argument "0.0000000001" for "--cpus" flag: value is too precise` + usage},
		{[]string{"--ulimit", "nofile"}, 125, `invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile` + usage},
		{[]string{"--dns", "x"}, 125, `invalid argument "x" for "--dns" flag: IP address is not correctly formatted: x` + usage},
		{[]string{"--add-host", "x"}, 125, `invalid argument "x" for "--add-host" flag: bad format for add-host: "x"` + usage},
		{[]string{"--sysctl", "kernel.hostname=x"}, 125,
			`invalid argument "kernel.hostname=x" for "--sysctl" flag: sysctl 'kernel.hostname=x' is not allowed` + usage},
		{[]string{"-a", "stdio"}, 125, `invalid argument "stdio" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR` + usage},
		{[]string{"-e", "=x"}, 125, `invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x` + usage},
		{[]string{"--mount", "type=bind"}, 125, `invalid argument "type=bind" for "--mount" flag: target is required` + usage},
		{[]string{"--network", "alias=x"}, 125, `invalid argument "alias=x" for "--network" flag: network name/id is not specified` + usage},
		{[]string{"--pids-limit", "many"}, 125, `invalid argument "many" for "--pids-limit" flag: strconv.ParseInt: parsing "many": invalid syntax` + usage},
		{[]string{"--rm", "--restart", "always"}, 125, "corral: conflicting options: cannot specify both --restart and --rm" + hint},
		{[]string{"--restart", "on-failure:x"}, 125, "corral: invalid restart policy format: maximum retry count must be an integer" + hint},
		{[]string{"-p", "80:abc"}, 125, "corral: invalid containerPort: abc" + hint},
		{[]string{"-p", "1.2.3:80:80"}, 125, "corral: invalid IP address: 1.2.3" + hint},
		{[]string{"-p", "80/icmp"}, 125, "corral: invalid proto: icmp" + hint},
		{[]string{"-p", "1-3:4-5"}, 125, "corral: invalid ranges specified for container and host Ports: 4-5 and 1-3" + hint},
		{[]string{"--expose", "80:80"}, 125, "corral: invalid port format for --expose: 80:80" + hint},
		{[]string{"--device", "dev/fuse"}, 125, "corral: dev/fuse is not an absolute path" + hint},
		{[]string{"--device", "/a:/b:x"}, 125, "corral: bad mode specified: x" + hint},
		{[]string{"--security-opt", "seccomp=/nonexistent/profile"}, 125,
			"corral: opening seccomp profile (/nonexistent/profile) failed: open /nonexistent/profile: no such file or directory" + hint},
		{[]string{"--security-opt", "label"}, 125, `corral: Invalid --security-opt: "label"` + hint},
		{[]string{"--memory-swappiness", "200"}, 125, "corral: invalid value: 200. Valid memory swappiness range is 0-100" + hint},
		{[]string{"--health-interval", "-1s"}, 125, "corral: --health-interval cannot be negative" + hint},
		{[]string{"--no-healthcheck", "--health-cmd", "x"}, 125, "corral: --no-healthcheck conflicts with --health-* options" + hint},
		{[]string{"--pid", "nope"}, 125, "corral: --pid: invalid PID mode" + hint},
		{[]string{"--cgroupns", "nope"}, 125, "corral: --cgroupns: invalid CGROUP mode" + hint},
		{[]string{"--log-driver", "none", "--log-opt", "a=b"}, 125, "corral: invalid logging opts for driver none" + hint},
		{[]string{"--env-file", "/nonexistent/env"}, 125, "corral: open /nonexistent/env: no such file or directory" + hint},
		{[]string{"--network", "host", "--network", "front"}, 125,
			"corral: conflicting options: cannot attach both user-defined and non-user-defined network-modes" + hint},
		{[]string{"--network", "bridge", "--network", "bridge"}, 125, `corral: network "bridge" is specified multiple times` + hint},
		{[]string{"--platform", "a/b/c/d", "-d"}, 125, `corral: error parsing specified platform: "a/b/c/d": invalid platform: expected os[/arch[/variant]]` + hint},
	}
	for _, tt := range tests {
		f := newCtrFake(t)
		_, errOut, code := runCLI(f, "", append(append([]string{"run"}, tt.args...), "busybox")...)
		if code != tt.code || errOut != tt.err {
			t.Errorf("run %q: exit %d\n%s\nwant exit %d\n%s", tt.args, code, errOut, tt.code, tt.err)
		}
	}
}

func TestRunFlagFiles(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "env")
	writeFile(t, bad, "# c\nGOOD=1\n\nBAD KEY=2\n")
	f := newCtrFake(t)
	_, errOut, code := runCLI(f, "", "run", "--env-file", bad, "busybox")
	want := "corral: invalid env file (" + bad + "): line 4: variable 'BAD KEY' contains whitespaces\n\nRun 'corral run --help' for more information\n"
	if code != 125 || errOut != want {
		t.Errorf("bad env file: exit %d %q", code, errOut)
	}
	if calls := f.callList(); calls != "" {
		t.Errorf("a bad env file made calls: %s", calls)
	}
}

// TestLongNetworkSyntax holds the hand check to docker's regexp on the
// forms --network sees and on edge cases of \w and of the pair.
func TestLongNetworkSyntax(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`\w+=\w+(,\w+=\w+)*`)
	for _, v := range []string{
		"", "=", "a=", "=b", "a=b", "none", "host", "container:web", "container:a=b",
		"name=front,alias=web,ip=10.1.0.5", "driver-opt=com.x=1", "-=-", "_=_", "9=z",
		"a =b", "a= b", "é=é", "xé=éy", "a==b", "name=n,", ",a=b", "net-1",
	} {
		if got, want := isLongNetworkSyntax(v), re.MatchString(v); got != want {
			t.Errorf("isLongNetworkSyntax(%q) = %v, the regexp says %v", v, got, want)
		}
	}
}
