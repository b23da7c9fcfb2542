package runcli

import (
	"strings"
	"testing"

	"github.com/corral-dev/corral/runtime"
)

func TestParseFast(t *testing.T) {
	tests := []struct {
		args      string
		ok        bool
		op, id    string
		root, log string
		logFormat string
	}{
		{"pause c1", true, "pause", "c1", runtime.DefaultRoot, "", "text"},
		{"resume c1", true, "resume", "c1", runtime.DefaultRoot, "", "text"},
		{"--root /r pause c1", true, "pause", "c1", "/r", "", "text"},
		{"--root=/r --log /l --log-format json resume c1", true, "resume", "c1", "/r", "/l", "json"},
		{"--log=/l --log-format=text --rootless false pause c1", true, "pause", "c1", runtime.DefaultRoot, "/l", "text"},
		{"--root= pause c1", true, "pause", "c1", "", "", "text"},
		// Everything else goes the full way.
		{"", false, "", "", "", "", ""},
		{"pause", false, "", "", "", "", ""},
		{"pause a b", false, "", "", "", "", ""},
		{"pause --help", false, "", "", "", "", ""},
		{"pause -h", false, "", "", "", "", ""},
		{"pause --root /r c1", false, "", "", "", "", ""},
		{"--debug pause c1", false, "", "", "", "", ""},
		{"--systemd-cgroup pause c1", false, "", "", "", "", ""},
		{"--log-format xml pause c1", false, "", "", "", "", ""},
		{"--root", false, "", "", "", "", ""},
		{"-- pause c1", false, "", "", "", "", ""},
		{"state c1", false, "", "", "", "", ""},
		{"kill c1", false, "", "", "", "", ""},
		{"-v", false, "", "", "", "", ""},
	}
	for _, tt := range tests {
		g, op, id, ok := parseFast(strings.Fields(tt.args))
		if ok != tt.ok {
			t.Errorf("parseFast(%q) ok = %v, want %v", tt.args, ok, tt.ok)
			continue
		}
		if ok && (op != tt.op || id != tt.id || g.root != tt.root || g.log != tt.log || g.logFormat != tt.logFormat) {
			t.Errorf("parseFast(%q) = %+v %q %q", tt.args, g, op, id)
		}
	}
}
