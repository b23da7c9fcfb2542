package cli

import "testing"

func TestHealthOnFailureFlag(t *testing.T) {
	doc, err := parseArgs(t, "--health-on-failure", "restart", "-l", "a=b", "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := field(doc, "Config.Labels"), canonical(`{"a":"b","io.corral.health-on-failure":"restart"}`); got != want {
		t.Errorf("Config.Labels = %s, want %s", got, want)
	}
	doc, err = parseArgs(t, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if got := field(doc, "Config.Labels"); got != "{}" && got != "null" {
		t.Errorf("no flag: Config.Labels = %s", got)
	}
	_, errOut, code := runCLI(newCtrFake(t), "", "run", "--health-on-failure", "reboot", "busybox")
	want := "corral: invalid argument \"reboot\" for --health-on-failure: want none, kill, restart or stop\n\n" +
		"Run 'corral run --help' for more information\n"
	if code != 125 || errOut != want {
		t.Errorf("bad value: exit %d %q", code, errOut)
	}
}
