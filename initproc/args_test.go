package initproc

import (
	"slices"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args  []string
		want  Options
		error string // substring; "" means success
	}{
		{args: []string{"--", "sh", "-c", "true"}, want: Options{Command: []string{"sh", "-c", "true"}}},
		{args: []string{"sh", "-g"}, want: Options{Command: []string{"sh", "-g"}}},
		{args: []string{"-g", "--", "sh"}, want: Options{Command: []string{"sh"}, KillGroup: true}},
		{args: []string{"-gs", "sh"}, want: Options{Command: []string{"sh"}, KillGroup: true}},
		{args: []string{"-s", "-g", "--", "--", "x"}, want: Options{Command: []string{"--", "x"}, KillGroup: true}},
		{args: []string{"-e", "143", "-e143", "-ge", "1", "--", "java"},
			want: Options{Command: []string{"java"}, KillGroup: true, RemapExit: []int{143, 143, 1}}},
		{args: []string{"--", "-g"}, want: Options{Command: []string{"-g"}}},
		{args: []string{"-", "x"}, want: Options{Command: []string{"-", "x"}}},
		{args: []string{"-h"}, want: Options{Help: true}},
		{args: []string{"-gh", "--", "sh"}, want: Options{Help: true, KillGroup: true}},
		{args: []string{"--help", "sh"}, want: Options{Help: true}},
		{args: nil, error: "no program"},
		{args: []string{"--"}, error: "no program"},
		{args: []string{"-g"}, error: "no program"},
		{args: []string{"--", ""}, error: "empty program"},
		{args: []string{"-x", "sh"}, error: "unknown option -x"},
		{args: []string{"-gx", "sh"}, error: "unknown option -x"},
		{args: []string{"--verbose", "sh"}, error: "unknown option --"},
		{args: []string{"-e"}, error: "-e needs"},
		{args: []string{"-e", "abc", "sh"}, error: `"abc" is not 0..255`},
		{args: []string{"-e", "256", "sh"}, error: "is not 0..255"},
		{args: []string{"-e-1", "sh"}, error: "is not 0..255"},
	}
	for _, tt := range tests {
		got, err := ParseArgs(tt.args)
		switch {
		case tt.error != "":
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Errorf("ParseArgs(%q): error %v, want one with %q", tt.args, err, tt.error)
			}
		case err != nil:
			t.Errorf("ParseArgs(%q): %v", tt.args, err)
		case !equalOptions(got, tt.want):
			t.Errorf("ParseArgs(%q) = %+v, want %+v", tt.args, got, tt.want)
		}
	}
}

func equalOptions(a, b Options) bool {
	return slices.Equal(a.Command, b.Command) && a.KillGroup == b.KillGroup &&
		slices.Equal(a.RemapExit, b.RemapExit) && a.Help == b.Help
}

func TestRemapExit(t *testing.T) {
	o := Options{RemapExit: []int{143, 1}}
	for code, want := range map[int]int{143: 0, 1: 0, 0: 0, 2: 2, 137: 137} {
		if got := o.exitCode(code); got != want {
			t.Errorf("exitCode(%d) = %d, want %d", code, got, want)
		}
	}
}
