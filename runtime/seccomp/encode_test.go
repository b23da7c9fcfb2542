package seccomp

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestEncodeRoundTrip: init loads exactly the filter, flags and notify
// marker the runtime compiled.
func TestEncodeRoundTrip(t *testing.T) {
	notify := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock",
		Flags:    []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}
	for name, c := range map[string]*specs.LinuxSeccomp{"docker-like": loadProfile(t, "docker-like.json"), "notify": notify} {
		p, err := Compile(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := Decode(p.Encode())
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		want := *p
		want.ignored = nil
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("%s: decoded program differs: flags %#x/%#x notify %v/%v, %d/%d instructions",
				name, got.flags, p.flags, got.notify, p.notify, got.Len(), p.Len())
		}
	}
}

// TestDecodeRejects: a truncated or oversized encoding is an error, not a
// short filter.
func TestDecodeRejects(t *testing.T) {
	p, err := Compile(loadProfile(t, "docker-like.json"))
	if err != nil {
		t.Fatal(err)
	}
	good := p.Encode()
	huge := make([]byte, headerLen+insnLen*(maxInsns+1))
	badNotify := append([]byte(nil), good...)
	badNotify[8] = 2
	for name, b := range map[string][]byte{
		"empty": nil, "header only": good[:headerLen], "cut instruction": good[:len(good)-3],
		"too long": huge, "bad notify": badNotify,
	} {
		if _, err := Decode(b); err == nil || !strings.HasPrefix(err.Error(), "decode seccomp filter") {
			t.Errorf("%s: Decode = %v, want an error", name, err)
		}
	}
}
