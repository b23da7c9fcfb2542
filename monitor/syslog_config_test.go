package monitor

import (
	"errors"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

// TestLogConfigCheck: Start refuses a log config the monitor cannot run
// with, as an invalid argument naming the field.
func TestLogConfigCheck(t *testing.T) {
	good := SyslogConfig{Network: "unixgram", Address: "/dev/log", Facility: 3, Tag: "abc"}
	with := func(edit func(*SyslogConfig)) *SyslogConfig {
		s := good
		edit(&s)
		return &s
	}
	for _, tc := range []struct {
		name string
		log  LogConfig
		ok   bool
	}{
		{"json-file", LogConfig{}, true},
		{"none", LogConfig{Driver: "none"}, true},
		{"syslog", LogConfig{Driver: "syslog", Syslog: &good}, true},
		{"udp", LogConfig{Driver: "syslog", Syslog: with(func(s *SyslogConfig) { s.Network, s.Address = "udp", "127.0.0.1:514" })}, true},
		{"tcp6", LogConfig{Driver: "syslog", Syslog: with(func(s *SyslogConfig) { s.Network, s.Address = "tcp", "[::1]:514" })}, true},
		{"unknown driver", LogConfig{Driver: "fluentd"}, false},
		{"syslog without settings", LogConfig{Driver: "syslog"}, false},
		{"settings without syslog", LogConfig{Syslog: &good}, false},
		{"relative path", LogConfig{Driver: "syslog", Syslog: with(func(s *SyslogConfig) { s.Address = "dev/log" })}, false},
		{"host name", LogConfig{Driver: "syslog", Syslog: with(func(s *SyslogConfig) { s.Network, s.Address = "udp", "loghost:514" })}, false},
		{"network", LogConfig{Driver: "syslog", Syslog: with(func(s *SyslogConfig) { s.Network = "sctp" })}, false},
		{"facility", LogConfig{Driver: "syslog", Syslog: with(func(s *SyslogConfig) { s.Facility = 24 })}, false},
		{"empty tag", LogConfig{Driver: "syslog", Syslog: with(func(s *SyslogConfig) { s.Tag = "" })}, false},
		{"tag with space", LogConfig{Driver: "syslog", Syslog: with(func(s *SyslogConfig) { s.Tag = "a b" })}, false},
		{"format", LogConfig{Driver: "syslog", Syslog: with(func(s *SyslogConfig) { s.Format = "rfc9999" })}, false},
	} {
		c := Config{ID: "x", StateDir: "/s", Bundle: "/b", Binary: "/bin/true", Log: tc.log}
		_, err := c.withDefaults()
		if tc.ok != (err == nil) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v is not an invalid argument", tc.name, err)
		}
	}
}
