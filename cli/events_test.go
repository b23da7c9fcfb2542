package cli

import (
	"strings"
	"testing"
	"time"
)

func TestEvents(t *testing.T) {
	f := newEngineFake()
	sock := serveEngine(t, f)
	loc := time.Local
	stamp := func(nano int64) string { return time.Unix(0, nano).In(loc).Format(timeNanoFixed) }
	tests := []manageCase{
		{args: []string{"events", "--since", "1700000001", "--until", "1700000002.5"},
			out: stamp(1700000001000000000) + " container start " + webID + " (app=web, image=busybox, name=web)\n" +
				stamp(1700000002000000500) + " image pull busybox:latest (name=busybox)\n",
			calls: []string{"events since=1700000001 until=1700000002 filters={}"}},
		{args: []string{"system", "events", "--since", "1", "--until", "1700000005", "--filter", "type=container", "--filter", "event=die",
			"--format", "{{.Status}} {{.ID}} {{.From}} {{.Actor.Attributes.exitCode}}"},
			out:   "die " + dbID + " localhost:5000/db:1.0 0\n",
			calls: []string{`events since=1 until=1700000005 filters={"event":{"die":true},"type":{"container":true}}`}},
		// JSON has the fields docker's CLI keeps from before API 1.52.
		{args: []string{"events", "--since", "1700000002", "--until", "1700000003", "--format", "json"},
			out: `{"status":"pull","id":"busybox:latest","Type":"image","Action":"pull","Actor":{"ID":"busybox:latest",` +
				`"Attributes":{"name":"busybox"}},"scope":"local","time":1700000002,"timeNano":1700000002000000500}` + "\n" +
				`{"Type":"network","Action":"connect","Actor":{"ID":"0123abcd","Attributes":{"container":"` + webID +
				`","name":"bridge","type":"bridge"}},"scope":"local","time":1700000003,"timeNano":1700000003000000000}` + "\n",
			calls: []string{"events since=1700000002 until=1700000003 filters={}"}},
		{args: []string{"events", "--format", "{{.Nope}}"}, code: 64,
			err: "Error parsing format: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *cli.eventView\n"},
		{args: []string{"events", "--since", "soon"}, code: 1, err: "failed to parse value as time or duration: \"soon\"\n"},
		{args: []string{"events", "--until", "1", "--filter", "bogus=1"}, code: 1, err: "Error response from daemon: invalid filter 'bogus'\n",
			calls: []string{`events since=0 until=1 filters={"bogus":{"1":true}}`}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) { checkManage(t, f, sock, tc) })
	}
}

func TestEventTimestamp(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		in   string
		want time.Time
		err  string
	}{
		{"", time.Time{}, ""},
		{"10m", time.Date(2024, 5, 1, 9, 50, 0, 0, time.UTC), ""},
		{"1h30m", time.Date(2024, 5, 1, 8, 30, 0, 0, time.UTC), ""},
		{"1700000000", time.Unix(1700000000, 0), ""},
		{"1700000000.5", time.Unix(1700000000, 500000000), ""},
		{"1700000000.000000001", time.Unix(1700000000, 1), ""},
		{"0", time.Unix(0, 0), ""},
		{"2024-05-01", time.Date(2024, 5, 1, 0, 0, 0, 0, now.Location()), ""},
		{"2024-05-01T10", time.Date(2024, 5, 1, 10, 0, 0, 0, now.Location()), ""},
		{"2024-05-01T10:30", time.Date(2024, 5, 1, 10, 30, 0, 0, now.Location()), ""},
		{"2024-05-01T10:30:15", time.Date(2024, 5, 1, 10, 30, 15, 0, now.Location()), ""},
		{"2024-05-01T10:30:15.25", time.Date(2024, 5, 1, 10, 30, 15, 250000000, now.Location()), ""},
		{"2024-05-01T10:30:15Z", time.Date(2024, 5, 1, 10, 30, 15, 0, time.UTC), ""},
		{"2024-05-01T10:30:15+01:00", time.Date(2024, 5, 1, 9, 30, 15, 0, time.UTC), ""},
		{"2024-05-01T10:30+01:00", time.Date(2024, 5, 1, 9, 30, 0, 0, time.UTC), ""},
		{"2024-05-01Z", time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), ""},
		{"2024-13-01", time.Time{}, `parsing time "2024-13-01": month out of range`},
		{"later", time.Time{}, `failed to parse value as time or duration: "later"`},
		{"1.x", time.Time{}, `failed to parse value as time or duration: "1.x"`},
	}
	for _, tt := range tests {
		got, err := eventTimestamp(tt.in, now)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("%q: %v %v, want %v", tt.in, got, err, tt.want)
		}
	}
}
