package cli

import (
	"strings"
	"testing"

	"github.com/corral-dev/corral/api"
)

// TestSecretFlag checks --secret's syntax and the label it becomes.
func TestSecretFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the label, or the error
	}{
		{[]string{"--secret", "db"}, `[{"name":"db","type":"file","target":"/run/secrets/db","mode":"0444"}]`},
		{[]string{"--secret", "source=db,target=pw,uid=1000,gid=1001,mode=0400"},
			`[{"name":"db","type":"file","target":"/run/secrets/pw","uid":1000,"gid":1001,"mode":"0400"}]`},
		{[]string{"--secret", "db,src=db,target=/etc/app.key"}, `[{"name":"db","type":"file","target":"/etc/app.key","mode":"0444"}]`},
		{[]string{"--secret", "db,type=env,target=DB_PASS", "--secret", "tls"},
			`[{"name":"db","type":"env","target":"DB_PASS"},{"name":"tls","type":"file","target":"/run/secrets/tls","mode":"0444"}]`},
		{[]string{"--secret", "db,type=env"}, `[{"name":"db","type":"env","target":"db"}]`},
		{[]string{"--secret", "db,source=other"}, `two names, "db" and "other"`},
		{[]string{"--secret", "target=x"}, `source is required`},
		{[]string{"--secret", "db,uid=-1"}, `uid "-1": want a number`},
		{[]string{"--secret", "db,mode=999"}, `mode "999"`},
		{[]string{"--secret", "db,target=../../etc/passwd"}, `leaves /run/secrets`},
		{[]string{"--secret", "db,value=x"}, `invalid field in secret request: value`},
		{[]string{"--secret", "db,type=env,mode=0400"}, `apply to file secrets only`},
		{[]string{"--secret", "a,target=x", "--secret", "b,target=x"}, `two secrets have the file target /run/secrets/x`},
		{[]string{"--secret", "db", "-l", api.LabelSecrets + "=[]"}, `cannot be given together`},
	} {
		f := newCtrFake(t)
		_, errOut, code := runCLI(f, "", append(append([]string{"create"}, tc.args...), "busybox")...)
		got := f.created.Config
		switch {
		case code == 0 && got != nil && got.Labels[api.LabelSecrets] == tc.want:
		case code != 0 && strings.Contains(errOut, tc.want) && !strings.Contains(f.callList(), "create"):
		default:
			t.Errorf("create %q: exit %d %s, want %s (calls %s)", tc.args, code, errOut, tc.want, f.callList())
		}
	}
}
