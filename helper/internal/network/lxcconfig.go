package network

import "fmt"

// LXCConfig returns the lxc.net.INDEX.* lines, in "key = value" form, that give a container
// the NIC that a describes. The NIC is named ethINDEX inside the container. Only the NIC at
// index 0 sets the default route through its gateway, because a container has one default
// route. LXC copies the bridge's MTU to the veth at start, so there is no mtu key.
func LXCConfig(a Attachment, index int) []string {
	key := func(name string) string { return fmt.Sprintf("lxc.net.%d.%s", index, name) }
	lines := []string{
		key("type") + " = veth",
		key("link") + " = " + a.Bridge,
		key("name") + fmt.Sprintf(" = eth%d", index),
		key("flags") + " = up",
		key("hwaddr") + " = " + a.HWAddr,
		key("ipv4.address") + " = " + a.Address.String(),
	}
	if index == 0 {
		lines = append(lines, key("ipv4.gateway")+" = "+a.Gateway.String())
	}
	return append(lines, key("script.up")+" = "+a.PortHook)
}
