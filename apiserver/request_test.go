package apiserver

import (
	"net/url"
	"testing"
	"time"

	"github.com/corral-dev/corral/errdefs"
)

func TestBoolValue(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "0", "no", "false", "none", "False", "FALSE", "No", "None", " false "} {
		if boolValue(url.Values{"k": {v}}, "k") {
			t.Errorf("boolValue(%q) = true, want false", v)
		}
	}
	for _, v := range []string{"1", "true", "True", "TRUE", "yes", "on", "2"} {
		if !boolValue(url.Values{"k": {v}}, "k") {
			t.Errorf("boolValue(%q) = false, want true", v)
		}
	}
	if boolValue(url.Values{}, "k") {
		t.Error("absent: true, want false")
	}
	if !boolOr(url.Values{}, "stream", true) || boolOr(url.Values{"stream": {"0"}}, "stream", true) ||
		!boolOr(url.Values{"stream": {"True"}}, "stream", false) {
		t.Error("boolOr: default or value ignored")
	}
}

func TestFiltersOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want map[string][]string
		bad  bool
	}{
		{``, map[string][]string{}, false},
		{`{}`, map[string][]string{}, false},
		{`{"type":{"container":true},"label":{"a=b":true,"c":true}}`, map[string][]string{"type": {"container"}, "label": {"a=b", "c"}}, false},
		{`{"label": ["com.docker.compose.project=demo", "com.docker.compose.oneoff=False"]}`,
			map[string][]string{"label": {"com.docker.compose.oneoff=False", "com.docker.compose.project=demo"}}, false},
		{`{"status":["created","exited"]}`, map[string][]string{"status": {"created", "exited"}}, false},
		{`{"label":"x"}`, nil, true},
		{`[`, nil, true},
	}
	for _, tt := range tests {
		f, err := filtersOf(url.Values{"filters": {tt.raw}})
		if tt.bad {
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("%s: err %v, want invalid argument", tt.raw, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.raw, err)
			continue
		}
		if f.Len() != len(tt.want) {
			t.Errorf("%s: %d keys, want %d", tt.raw, f.Len(), len(tt.want))
		}
		for k, vals := range tt.want {
			if got := f.Get(k); len(got) != len(vals) || got[0] != vals[0] {
				t.Errorf("%s: %s = %q, want %q", tt.raw, k, got, vals)
			}
		}
	}
}

func TestTimeOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"", time.Time{}, false},
		{"1700000000", time.Unix(1700000000, 0), false},
		{"1700000000.000000001", time.Unix(1700000000, 1), false},
		{"1700000000.5", time.Unix(1700000000, 500000000), false},
		{"2023-11-14T22:13:20Z", time.Unix(1700000000, 0), false},
		{"10m", time.Time{}, true},
		{"1.2.3", time.Time{}, true},
		{"1.0000000001", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := timeOf(url.Values{"since": {tt.in}}, "since")
		if tt.bad != (err != nil) || !got.Equal(tt.want) {
			t.Errorf("timeOf(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}
