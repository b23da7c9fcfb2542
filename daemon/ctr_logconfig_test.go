package daemon

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"

	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/monitor"
)

// TestMergeLogConfig: the daemon's driver and options under the
// container's, as dockerd merges them; what create stores.
func TestMergeLogConfig(t *testing.T) {
	jf := func(kv ...string) LogConfig {
		c := LogConfig{Type: logJSONFile, Config: map[string]string{}}
		for i := 0; i < len(kv); i += 2 {
			c.Config[kv[i]] = kv[i+1]
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		lc, def  LogConfig
		want     LogConfig
		wantErrs string
	}{
		{name: "defaults", want: jf()},
		{name: "daemon opts", def: jf("max-size", "1m", "max-file", "5"), want: jf("max-size", "1m", "max-file", "5")},
		{name: "container over daemon", lc: jf("max-size", "2m"), def: jf("max-size", "1m", "max-file", "5"),
			want: jf("max-size", "2m", "max-file", "5")},
		{name: "other driver: no daemon opts", lc: LogConfig{Type: logNone}, def: jf("max-size", "1m"),
			want: LogConfig{Type: logNone, Config: map[string]string{}}},
		{name: "daemon default driver", def: LogConfig{Type: logNone}, want: LogConfig{Type: logNone, Config: map[string]string{}}},
	} {
		got, err := mergeLogConfig(tc.lc, tc.def)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

// TestCheckLogConfig: an unknown driver or option and a value out of
// range are invalid arguments, in dockerd's words where it has them.
func TestCheckLogConfig(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		driver string
		opts   []string // key, value, ...
		err    string   // "" for none
	}{
		{logJSONFile, []string{"max-size", "10m", "max-file", "3", "mode", "non-blocking", "max-buffer-size", "4m"}, ""},
		{logJSONFile, []string{"max-size", "0"}, "max-size must be a positive number"},
		{logJSONFile, []string{"max-size", "garbage"}, "max-size: invalid size: 'garbage'"},
		{logJSONFile, []string{"max-size", "-1"}, "max-size: invalid size: '-1'"},
		{logJSONFile, []string{"max-file", "0"}, "max-file cannot be less than 1"},
		{logJSONFile, []string{"max-file", "x"}, `max-file: invalid number "x"`},
		{logJSONFile, []string{"compress", "true"}, "compress=true of the json-file log driver is not supported"},
		{logJSONFile, []string{"compress", "false"}, ""},
		{logJSONFile, []string{"syslog-address", "udp://x"}, "unknown log opt 'syslog-address' for json-file log driver"},
		{logJSONFile, []string{"labels", "a"}, "log opt 'labels' of the json-file log driver is not supported"},
		{logJSONFile, []string{"mode", "sometimes"}, "logger: logging mode not supported: sometimes"},
		{logJSONFile, []string{"tag", "{{.Nope"}, "log opt tag:"},
		{"fluentd", nil, "logger: no log driver named 'fluentd' is registered"},
		{"journald", nil, "logger: no log driver named 'journald' is registered"},
		{logNone, []string{"anything", "goes"}, ""},
		{logSyslog, nil, ""},
		{logSyslog, []string{"syslog-address", "unixgram://" + sock, "syslog-facility", "local3", "syslog-format", "rfc5424", "tag", "{{.Name}}"}, ""},
		{logSyslog, []string{"syslog-address", "udp://127.0.0.1:5514", "syslog-facility", "23"}, ""},
		{logSyslog, []string{"syslog-address", "tcp://logs.example"}, ""},
		{logSyslog, []string{"syslog-address", "unix:///nonexistent/sock"}, "stat /nonexistent/sock: no such file or directory"},
		{logSyslog, []string{"syslog-address", "http://x"}, "unsupported scheme: 'http'"},
		{logSyslog, []string{"syslog-address", "tcp+tls://x:1"}, "tcp+tls is not supported"},
		{logSyslog, []string{"syslog-facility", "24"}, "invalid syslog facility"},
		{logSyslog, []string{"syslog-facility", "nope"}, "invalid syslog facility"},
		{logSyslog, []string{"syslog-format", "rfc1"}, "invalid syslog format"},
		{logSyslog, []string{"max-size", "1m"}, "unknown log opt 'max-size' for syslog log driver"},
	} {
		lc := LogConfig{Type: tc.driver, Config: map[string]string{}}
		for i := 0; i < len(tc.opts); i += 2 {
			lc.Config[tc.opts[i]] = tc.opts[i+1]
		}
		_, err := mergeLogConfig(lc, LogConfig{})
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s %v: %v", tc.driver, tc.opts, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s %v: error %v, want %q", tc.driver, tc.opts, err, tc.err)
		case err != nil && !errdefs.IsInvalidArgument(err):
			t.Errorf("%s %v: %v is not an invalid argument", tc.driver, tc.opts, err)
		}
	}
}

// TestMonitorLog: what the monitor is given at start: json-file's sizes
// (decimal units, as dockerd's), syslog's resolved address and tag.
func TestMonitorLog(t *testing.T) {
	c := &ccontainer.Container{ID: strings.Repeat("ab", 32), Name: "/web", Image: "busybox",
		ImageID: "sha256:" + strings.Repeat("cd", 32), LogPath: "/x/log", HostConfig: &container.HostConfig{}}
	c.HostConfig.LogConfig = LogConfig{Type: logJSONFile, Config: map[string]string{"max-size": "1m", "max-file": "4"}}
	got, err := monitorLog(context.Background(), c)
	if want := (monitor.LogConfig{Path: "/x/log", MaxSize: 1000000, MaxFiles: 4}); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("json-file: %+v, %v", got, err)
	}
	c.HostConfig.LogConfig = LogConfig{Type: logSyslog, Config: map[string]string{"syslog-address": "udp://localhost",
		"syslog-facility": "local0", "tag": "{{.Name}}/{{.ID}}/{{.ImageName}}/{{.ImageID}}"}}
	got, err = monitorLog(context.Background(), c)
	if err != nil || got.Driver != logSyslog || got.Syslog == nil {
		t.Fatalf("syslog: %+v, %v", got, err)
	}
	if s := got.Syslog; s.Tag != "web/abababababab/busybox/cdcdcdcdcdcd" || s.Facility != 16 || s.Network != "udp" {
		t.Errorf("syslog: %+v", s)
	}
	if host, port, _ := net.SplitHostPort(got.Syslog.Address); net.ParseIP(host) == nil || port != "514" {
		t.Errorf("syslog address %q: want a numeric host, port 514", got.Syslog.Address)
	}
	c.HostConfig.LogConfig = LogConfig{Type: logSyslog}
	if got, err = monitorLog(context.Background(), c); err != nil || got.Syslog.Tag != "abababababab" ||
		got.Syslog.Address != "/dev/log" {
		t.Errorf("syslog defaults: %+v, %v", got.Syslog, err)
	}
}

// TestDaemonLogConfig: json-file rotates at 10m x 3 unless the daemon's
// log-opts say otherwise; a bad default is an error naming its source.
func TestDaemonLogConfig(t *testing.T) {
	for _, tc := range []struct {
		driver string
		opts   map[string]string
		want   LogConfig
	}{
		{"", nil, LogConfig{Type: logJSONFile, Config: map[string]string{"max-size": "10m", "max-file": "3"}}},
		{logJSONFile, map[string]string{"max-file": "5"}, LogConfig{Type: logJSONFile, Config: map[string]string{"max-size": "10m", "max-file": "5"}}},
		{logNone, nil, LogConfig{Type: logNone, Config: map[string]string{}}},
	} {
		got, err := daemonLogConfig(tc.driver, tc.opts)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q %v: %+v, %v; want %+v", tc.driver, tc.opts, got, err, tc.want)
		}
	}
	if _, err := daemonLogConfig(logJSONFile, map[string]string{"max-file": "0"}); err == nil ||
		err.Error() != "daemon log-driver and log-opts: max-file cannot be less than 1" {
		t.Errorf("bad default: %v", err)
	}
}
