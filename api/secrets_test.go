package api

import (
	"strings"
	"testing"
)

func TestParseSecretsLabel(t *testing.T) {
	for _, tc := range []struct {
		label string
		want  string // the normalized references, or the error
	}{
		{`[{"name":"db"}]`, `[{"name":"db","type":"file","target":"/run/secrets/db","mode":"0444"}]`},
		{`[{"name":"db","target":"sub/x","uid":1000,"gid":2,"mode":"400"}]`,
			`[{"name":"db","type":"file","target":"/run/secrets/sub/x","uid":1000,"gid":2,"mode":"0400"}]`},
		{`[{"name":"db","target":"/etc//app/key/"}]`, `[{"name":"db","type":"file","target":"/etc/app/key","mode":"0444"}]`},
		{`[{"name":"db","type":"env","target":"DB_PASS"},{"name":"db"}]`,
			`[{"name":"db","type":"env","target":"DB_PASS"},{"name":"db","type":"file","target":"/run/secrets/db","mode":"0444"}]`},
		{`[]`, `[]`},
		// The attacks and mistakes.
		{`[{"name":"db","target":"../../etc/shadow"}]`, `relative target "../../etc/shadow" leaves /run/secrets`},
		{`[{"name":"db","target":"."}]`, `leaves /run/secrets`},
		{`[{"name":"db","target":"/"}]`, `target cannot be /`},
		{`[{"name":"../x"}]`, `bad secret name`},
		{`[{"name":""}]`, `bad secret name`},
		{`[{"name":"db","mode":"4755"}]`, `mode "4755"`},
		{`[{"name":"db","mode":"rw"}]`, `mode "rw"`},
		{`[{"name":"db","type":"env","target":"A=B"}]`, `not an environment variable name`},
		{`[{"name":"db","type":"env","mode":"0400"}]`, `apply to file secrets only`},
		{`[{"name":"db","type":"tmpfs"}]`, `unknown type "tmpfs"`},
		{`[{"name":"a","target":"x"},{"name":"b","target":"/run/secrets/x"}]`, `two secrets have the file target /run/secrets/x`},
		{`[{"name":"db","value":"x"}]`, `unknown field "value"`},
		{`{"name":"db"}`, `want a JSON list`},
		{`[] []`, `data after the list`},
	} {
		refs, err := ParseSecretsLabel(tc.label)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got, _ = SecretsLabel(refs)
			if len(refs) == 0 {
				got = "[]"
			}
		}
		if err != nil && !strings.Contains(got, tc.want) || err == nil && got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.label, got, tc.want)
		}
	}
}

func TestSecretFileMode(t *testing.T) {
	r, err := SecretReference{Name: "x", Mode: "0640"}.Normalize()
	if err != nil || r.FileMode() != 0o640 {
		t.Errorf("mode 0640: %v %o", err, r.FileMode())
	}
}
