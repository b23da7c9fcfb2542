// Package nat programs corral's firewall: outbound masquerade for bridge
// networks, isolation between them, and published ports as DNAT rules, all
// in nftables tables that belong to corral alone.
//
// The caller describes the whole desired state (State: bridges and port
// mappings) and Firewall.Apply replaces corral's table with it in one
// netlink batch, so the kernel switches from the old rules to the new ones
// atomically and nothing outside that table is read or changed. There is no
// proxy process: published ports are kernel NAT, including connections to
// 127.0.0.1 (route_localnet on the bridge plus masquerade, as docker does)
// and hairpin connections from a container to its own published port.
//
// Planner.Plan turns Docker's HostConfig.PortBindings (and -P over
// ExposedPorts) into mappings, choosing free host ports and refusing ports
// already mapped or listened on; PortMap gives back NetworkSettings.Ports.
package nat
