package cli

import (
	"testing"
)

func TestNetworkCreateRequest(t *testing.T) {
	o := networkCreateOptions{driver: "bridge", ipamDriver: "default", subnet: "10.1.0.0/16",
		gateway: "10.1.0.254", ipRange: "10.1.2.0/24", internal: true}
	_ = o.labels.Set("a=b")
	_ = o.opts.Set("com.docker.network.bridge.name=br9")
	req, err := o.request("n")
	if err != nil {
		t.Fatal(err)
	}
	c := req.IPAM.Config[0]
	if c.Subnet.String() != "10.1.0.0/16" || c.Gateway.String() != "10.1.0.254" || c.IPRange.String() != "10.1.2.0/24" ||
		!req.Internal || req.Labels["a"] != "b" || req.Options["com.docker.network.bridge.name"] != "br9" {
		t.Errorf("request %+v", req)
	}
	for _, bad := range []networkCreateOptions{
		{gateway: "10.1.0.1"},
		{ipRange: "10.1.0.0/24"},
		{subnet: "10.1.0.0"},
		{subnet: "10.1.0.0/16", gateway: "x"},
	} {
		if _, err := bad.request("n"); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
