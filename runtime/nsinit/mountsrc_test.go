package nsinit

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// sourceMsg is one message a fake runtime sends: the byte and whether a
// descriptor rides along.
type sourceMsg struct {
	b     byte
	withF bool
}

// fakeSources runs receiveMountSources against a fake runtime that answers
// the request with msgs (then closes its end).
func fakeSources(t *testing.T, cfg *Config, msgs []sourceMsg) (mountSources, error) {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	runtimeEnd := os.NewFile(uintptr(pair[0]), "runtime")
	initEnd := os.NewFile(uintptr(pair[1]), "init")
	defer initEnd.Close()
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	served := make(chan error, 1)
	// The runtime end is closed before the result is sent, so a test that
	// counts descriptors after fakeSources returns never sees it still open.
	go func() {
		err := serveSources(runtimeEnd, dir, msgs)
		runtimeEnd.Close()
		served <- err
	}()
	srcs, err := receiveMountSources(cfg, newSyncConn(initEnd))
	if serr := <-served; serr != nil {
		t.Fatalf("fake runtime: %v", serr)
	}
	return srcs, err
}

// serveSources answers one mount-sources request on conn with msgs, each
// descriptor being dir.
func serveSources(conn, dir *os.File, msgs []sourceMsg) error {
	var m Msg
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&m); err != nil || m.Type != MsgMountSources {
		return err
	}
	for _, msg := range msgs {
		var oob []byte
		if msg.withF {
			oob = unix.UnixRights(int(dir.Fd()))
		}
		if err := unix.Sendmsg(int(conn.Fd()), []byte{msg.b}, oob, nil, 0); err != nil {
			return err
		}
	}
	return nil
}

func threeMounts(sources ...int) *Config {
	return &Config{Spec: &specs.Spec{Mounts: make([]specs.Mount, 3)}, MountSources: sources}
}

func TestReceiveMountSources(t *testing.T) {
	srcs, err := fakeSources(t, threeMounts(0, 2), []sourceMsg{{1, true}, {0, false}})
	if err != nil {
		t.Fatal(err)
	}
	defer srcs.Close()
	if len(srcs) != 1 || srcs[0] == nil {
		t.Fatalf("got sources %v, want only mounts[0]", srcs)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(srcs[0].Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("mounts[0] source is not the directory sent: %v %#o", err, st.Mode)
	}
	flags, err := unix.FcntlInt(srcs[0].Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("received descriptor is not close-on-exec (flags %#x, %v)", flags, err)
	}
	if got := bindSource("/host/path", srcs[0]); !strings.HasPrefix(got, "/proc/self/fd/") {
		t.Errorf("bindSource with a handle = %q", got)
	}
	if got := bindSource("/host/path", srcs[2]); got != "/host/path" {
		t.Errorf("bindSource without a handle = %q", got)
	}
}

func TestReceiveMountSourcesNone(t *testing.T) {
	// Nothing asked: no request goes out, nothing is read.
	srcs, err := receiveMountSources(threeMounts(), nil)
	if srcs != nil || err != nil {
		t.Errorf("got %v, %v", srcs, err)
	}
}

func TestReceiveMountSourcesMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  *Config
		msgs []sourceMsg
		want string
	}{
		{"flag without descriptor", threeMounts(0), []sourceMsg{{1, false}}, "malformed"},
		{"descriptor without flag", threeMounts(0), []sourceMsg{{0, true}}, "malformed"},
		{"unknown byte", threeMounts(0), []sourceMsg{{7, true}}, "malformed"},
		{"index out of range", threeMounts(3), []sourceMsg{{1, true}}, "no such bind mount"},
		{"negative index", threeMounts(-1), []sourceMsg{{1, true}}, "no such bind mount"},
		{"index twice", threeMounts(1, 1), []sourceMsg{{1, true}, {1, true}}, "no such bind mount"},
		{"runtime hangs up", threeMounts(0, 1), []sourceMsg{{1, true}}, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := openFDs(t)
			srcs, err := fakeSources(t, tc.cfg, tc.msgs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				srcs.Close()
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if srcs != nil {
				t.Errorf("sources returned with an error: %v", srcs)
			}
			if after := openFDs(t); after != before {
				t.Errorf("%d descriptors open before, %d after: a received one leaked", before, after)
			}
		})
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
