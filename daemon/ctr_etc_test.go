package daemon

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	ccontainer "github.com/corral-dev/corral/container"
)

func TestParseExtraHosts(t *testing.T) {
	gw := netip.MustParseAddr("172.17.0.1")
	good := map[string]string{
		"a:10.0.0.1":        "10.0.0.1\ta\n",
		"a=10.0.0.1":        "10.0.0.1\ta\n",
		"six:::1":           "::1\tsix\n",
		"six:[fe80::1]":     "fe80::1\tsix\n",
		"gw:host-gateway":   "172.17.0.1\tgw\n",
		"h.example:1.2.3.4": "1.2.3.4\th.example\n",
	}
	for in, want := range good {
		if got, err := parseExtraHosts([]string{in}, gw); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"noaddr", ":1.2.3.4", "a:", "a:1.2.3", "a:fe80::1%eth0", "a:1.2.3.4\nevil 6.6.6.6", "a b:1.2.3.4", "evil\n6.6.6.6 x:1.2.3.4", "a#b:1.2.3.4", "a\tb:1.2.3.4"} {
		if got, err := parseExtraHosts([]string{in}, gw); err == nil {
			t.Errorf("%q accepted: %q", in, got)
		}
	}
	if _, err := parseExtraHosts([]string{"gw:host-gateway"}, netip.Addr{}); err == nil {
		t.Error("host-gateway without a gateway accepted")
	}
}

func TestOwnHosts(t *testing.T) {
	c := &ccontainer.Container{Config: &container.Config{Hostname: "h1", Domainname: "example.org"},
		HostConfig: &container.HostConfig{NetworkMode: "front"},
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
			"back":  {IPAddress: netip.MustParseAddr("10.2.0.2")},
			"front": {IPAddress: netip.MustParseAddr("10.1.0.2"), Aliases: []string{"web", "h1"}},
			"gone":  {},
		}}}
	want := "10.1.0.2\th1.example.org h1 web\n10.2.0.2\th1.example.org h1\n"
	if got := ownHosts(c); got != want {
		t.Errorf("ownHosts:\n%q\nwant\n%q", got, want)
	}
	c.NetworkSettings.Networks = nil
	c.Config.Domainname = ""
	if got := ownHosts(c); got != "127.0.1.1\th1\n" {
		t.Errorf("without an address: %q", got)
	}
}

func TestCheckJoinedNetwork(t *testing.T) {
	joined := func() (*container.Config, *container.HostConfig) {
		return &container.Config{}, &container.HostConfig{NetworkMode: "container:abc"}
	}
	for _, bad := range []string{"a b", "h\n10.0.0.1 evil", "x#y"} {
		if err := checkJoinedNetwork(&container.Config{Hostname: bad}, &container.HostConfig{}); err == nil {
			t.Errorf("hostname %q accepted", bad)
		}
	}
	if err := checkJoinedNetwork(joined()); err != nil {
		t.Fatalf("plain container: mode refused: %v", err)
	}
	cases := map[string]func(*container.Config, *container.HostConfig){
		"hostname and the network mode": func(c *container.Config, _ *container.HostConfig) { c.Hostname = "x" },
		"dns and the network mode": func(_ *container.Config, h *container.HostConfig) {
			h.DNS = []netip.Addr{netip.MustParseAddr("1.1.1.1")}
		},
		"custom host-to-IP mapping and the network mode":      func(_ *container.Config, h *container.HostConfig) { h.ExtraHosts = []string{"a:1.2.3.4"} },
		"port publishing and the container type network mode": func(_ *container.Config, h *container.HostConfig) { h.PublishAllPorts = true },
		"container type network can't be used with links":     func(_ *container.Config, h *container.HostConfig) { h.Links = []string{"a:b"} },
	}
	for want, set := range cases {
		c, h := joined()
		set(c, h)
		if err := checkJoinedNetwork(c, h); err == nil || !strings.Contains(err.Error(), "conflicting options: "+want) {
			t.Errorf("%s: %v", want, err)
		}
		h.NetworkMode = "bridge"
		if err := checkJoinedNetwork(c, h); err != nil {
			t.Errorf("%s refused on the bridge: %v", want, err)
		}
	}
}

func TestResolvConfEmbedded(t *testing.T) {
	hc := &container.HostConfig{NetworkMode: "front", DNS: []netip.Addr{netip.MustParseAddr("10.9.9.9")},
		DNSSearch: []string{"a.example"}}
	got := resolvConf(hc, true)
	if !strings.HasPrefix(got, "nameserver 127.0.0.11\nsearch a.example\noptions ndots:0") ||
		strings.Count(got, "nameserver") != 1 || !strings.Contains(got, "# ExtServers: [10.9.9.9]") {
		t.Errorf("embedded resolv.conf:\n%s", got)
	}
	hc.DNSOptions = []string{"ndots:3", "timeout:1"}
	if got := resolvConf(hc, true); !strings.Contains(got, "options ndots:3 timeout:1\n") {
		t.Errorf("set ndots:\n%s", got)
	}
	if got := resolvConf(hc, false); !strings.HasPrefix(got, "nameserver 10.9.9.9\nsearch a.example\n") {
		t.Errorf("default bridge with --dns:\n%s", got)
	}
}

func TestParseResolvConf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	data := "# comment\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 10.0.0.2\nnameserver bad\nsearch a.example b.example\noptions edns0 ndots:2\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	h := parseResolvConf(p)
	if len(h.servers) != 1 || h.servers[0].String() != "10.0.0.2" || strings.Join(h.search, ",") != "a.example,b.example" ||
		strings.Join(h.options, ",") != "edns0,ndots:2" {
		t.Errorf("parsed %+v", h)
	}
	if h := parseResolvConf(filepath.Join(t.TempDir(), "absent")); len(h.servers)+len(h.raw) != 0 {
		t.Errorf("absent file: %+v", h)
	}
}
