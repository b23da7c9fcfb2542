package runcli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{"-1": -1, "0": 0, "1024": 1024, "512m": 512 << 20, "512M": 512 << 20,
		"1g": 1 << 30, "1GiB": 1 << 30, "2kb": 2048, "1.5k": 1536, "10 MB": 10 << 20, "7b": 7}
	for in, want := range good {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-2", "x", "10x", "1e3", "m", "99999999999p"} {
		if v, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, accepted", in, v)
		}
	}
}

// TestUpdateFlags checks which resources each flag sets; unset flags stay
// nil, and -r ignores the other flags, as in runc.
func TestUpdateFlags(t *testing.T) {
	tests := []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"--memory", "1g", "--memory-swap", "-1", "--pids-limit", "7"},
			"", `{"memory":{"limit":1073741824,"swap":-1},"pids":{"limit":7}}`},
		{[]string{"--cpu-shares", "512", "--cpu-quota", "-1", "--cpu-period", "100000", "--cpuset-cpus", "0-1", "--blkio-weight", "300"},
			"", `{"cpu":{"shares":512,"quota":-1,"period":100000,"cpus":"0-1"},"blockIO":{"weight":300}}`},
		{[]string{"--cpu-share", "2", "--cpu-rt-runtime", "950", "--cpu-rt-period", "1000", "--kernel-memory", "1m"},
			"", `{"cpu":{"shares":2,"realtimeRuntime":950,"realtimePeriod":1000}}`},
		{[]string{"-r", "-", "--memory", "1g"}, `{"pids":{"limit":3}}`, `{"pids":{"limit":3}}`},
		{nil, "", `{}`},
	}
	for _, tt := range tests {
		fs := pflag.NewFlagSet("update", pflag.ContinueOnError)
		u := addUpdateFlags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		res, err := u.build(fs, strings.NewReader(tt.stdin))
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		b, _ := json.Marshal(res)
		if string(b) != tt.want {
			t.Errorf("%v: %s, want %s", tt.args, b, tt.want)
		}
	}
	for _, bad := range [][]string{{"--memory", "lots"}, {"--cpu-quota", "1.5"}, {"--cpu-period", "-1"}, {"--blkio-weight", "70000"}} {
		fs := pflag.NewFlagSet("update", pflag.ContinueOnError)
		u := addUpdateFlags(fs)
		if err := fs.Parse(bad); err != nil {
			t.Fatal(err)
		}
		if _, err := u.build(fs, nil); err == nil || !strings.Contains(err.Error(), "invalid value for --") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
