package apiserver

import (
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

func TestInspectLegacyNetwork(t *testing.T) {
	mac, _ := net.ParseMAC("02:42:ac:11:00:02")
	c := container.InspectResponse{ID: "x", NetworkSettings: &container.NetworkSettings{
		Networks: map[string]*network.EndpointSettings{"bridge": {EndpointID: "ep", IPAddress: netip.MustParseAddr("172.17.0.2"),
			Gateway: netip.MustParseAddr("172.17.0.1"), IPPrefixLen: 16, MacAddress: network.HardwareAddr(mac)}}}}
	data, err := json.Marshal(withLegacyNetwork(c))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID              string `json:"Id"`
		NetworkSettings map[string]any
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	ns := got.NetworkSettings
	if got.ID != "x" || ns["IPAddress"] != "172.17.0.2" || ns["Gateway"] != "172.17.0.1" || ns["MacAddress"] != "02:42:ac:11:00:02" ||
		ns["EndpointID"] != "ep" || ns["IPPrefixLen"] != float64(16) || ns["GlobalIPv6Address"] != "" || ns["Networks"] == nil {
		t.Errorf("NetworkSettings %v", ns)
	}
	if strings.Count(string(data), `"NetworkSettings"`) != 1 {
		t.Errorf("NetworkSettings twice: %s", data)
	}
	// On a user network the top level is empty, as dockerd's.
	c.NetworkSettings.Networks = map[string]*network.EndpointSettings{"mine": c.NetworkSettings.Networks["bridge"]}
	data, _ = json.Marshal(withLegacyNetwork(c))
	if !strings.Contains(string(data), `"IPAddress":""`) {
		t.Errorf("user network: %s", data)
	}
}
