package network

import (
	"fmt"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// defaultRoute is an IPv4 default route of the main table, reduced to what picking an uplink
// needs.
type defaultRoute struct {
	// link is the name of the interface that the route leaves through.
	link   string
	metric int
}

// pickUplink returns the interface of the default route with the lowest metric, the one the
// kernel uses; ties go to the interface name that sorts first. It returns false when there is
// no default route.
func pickUplink(routes []defaultRoute) (string, bool) {
	if len(routes) == 0 {
		return "", false
	}
	sorted := append([]defaultRoute(nil), routes...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].metric != sorted[j].metric {
			return sorted[i].metric < sorted[j].metric
		}
		return sorted[i].link < sorted[j].link
	})
	return sorted[0].link, true
}

// defaultRoutes lists the IPv4 default routes of the main table. A multipath route counts with
// its first next hop.
func defaultRoutes() ([]defaultRoute, error) {
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var result []defaultRoute
	for _, route := range routes {
		if route.Dst != nil {
			if ones, _ := route.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		index := route.LinkIndex
		if index == 0 && len(route.MultiPath) > 0 {
			index = route.MultiPath[0].LinkIndex
		}
		link, err := netlink.LinkByIndex(index)
		if err != nil {
			return nil, fmt.Errorf("look up interface %d of the default route: %w", index, err)
		}
		result = append(result, defaultRoute{link: link.Attrs().Name, metric: route.Priority})
	}
	return result, nil
}

// resolveUplink returns the uplink of a NAT spec: the configured interface, which must exist,
// or else the interface of the default route. bridges are the networks' bridge names, which
// cannot serve as an uplink.
func resolveUplink(spec protocol.NetworkSpec, bridges map[string]bool) (string, error) {
	uplink := spec.Uplink
	if uplink == "" {
		routes, err := defaultRoutes()
		if err != nil {
			return "", err
		}
		var ok bool
		if uplink, ok = pickUplink(routes); !ok {
			return "", protocol.Errorf(protocol.CodeInvalid,
				"network %q uses mode nat but the device has no IPv4 default route to take the uplink from; "+
					"set uplink to the interface that leads out of the device, such as eth0 or wlan0", spec.Name)
		}
	}
	if uplink == spec.Name || bridges[uplink] {
		return "", protocol.Errorf(protocol.CodeInvalid,
			"network %q cannot use the bridge %s of a network as its uplink; set uplink to the "+
				"interface that leads out of the device", spec.Name, uplink)
	}
	if uplink == "lo" {
		return "", protocol.Errorf(protocol.CodeInvalid,
			"network %q cannot use the loopback interface as its uplink; set uplink to the "+
				"interface that leads out of the device", spec.Name)
	}
	link, err := linkByName(uplink)
	if err != nil {
		return "", err
	}
	if link == nil {
		return "", protocol.Errorf(protocol.CodeInvalid,
			"uplink %s of network %q does not exist on the device; set uplink to one of its interfaces",
			uplink, spec.Name)
	}
	return uplink, nil
}
