//go:build linux

package localdevice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// subnetBlock is the /16 whose /24s devices take: 10.213.N.0/24 with N from 1 to 254.
var subnetBlock = netip.MustParsePrefix("10.213.0.0/16")

// lockPath is the machine-wide lock that Start holds.
const lockPath = "/run/lock/iotfleet-localdevice.lock"

// lockMachine takes the machine-wide start lock, polling so that ctx can cancel the wait.
func lockMachine(ctx context.Context) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	file, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	for {
		err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { file.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			file.Close()
			return nil, fmt.Errorf("lock %s: %w", lockPath, err)
		}
		if err := sleepContext(ctx, 20*time.Millisecond); err != nil {
			file.Close()
			return nil, fmt.Errorf("lock %s: another start holds it: %w", lockPath, err)
		}
	}
}

// createNetwork creates the namespace and the veth pair and addresses both sides.
func (d *Device) createNetwork(ctx context.Context) error {
	subnet, err := freeSubnet(ctx)
	if err != nil {
		return err
	}
	d.HostIP = subnet.Addr().Next()
	d.IP = d.HostIP.Next()
	hostCIDR := netip.PrefixFrom(d.HostIP, subnet.Bits()).String()
	deviceCIDR := netip.PrefixFrom(d.IP, subnet.Bits()).String()

	steps := [][]string{
		{"netns", "add", d.Namespace},
		{"link", "add", d.HostVeth, "type", "veth", "peer", "name", d.DeviceVeth, "netns", d.Namespace},
		{"addr", "add", hostCIDR, "dev", d.HostVeth},
		{"link", "set", d.HostVeth, "up"},
		{"-n", d.Namespace, "link", "set", "lo", "up"},
		{"-n", d.Namespace, "addr", "add", deviceCIDR, "dev", d.DeviceVeth},
		{"-n", d.Namespace, "link", "set", d.DeviceVeth, "up"},
	}
	for _, args := range steps {
		if _, err := run(ctx, "ip", args...); err != nil {
			return fmt.Errorf("create network: %w", err)
		}
	}
	return nil
}

// freeSubnet returns the first /24 of subnetBlock that overlaps no address or route of the
// root namespace and no address of any named network namespace.
func freeSubnet(ctx context.Context) (netip.Prefix, error) {
	used, err := usedPrefixes(ctx)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("find a free subnet: %w", err)
	}
	subnet, ok := firstFreeSubnet(used)
	if !ok {
		return netip.Prefix{}, fmt.Errorf("find a free subnet: every /24 of %s is in use; "+
			"stop devices you no longer need", subnetBlock)
	}
	return subnet, nil
}

// firstFreeSubnet returns the first 10.213.N.0/24, N from 1 to 254, that overlaps none of used.
// A default route (0.0.0.0/0) overlaps everything and is ignored.
func firstFreeSubnet(used []netip.Prefix) (netip.Prefix, bool) {
	base := subnetBlock.Addr().As4()
	for n := 1; n <= 254; n++ {
		candidate := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1], byte(n), 0}), 24)
		free := true
		for _, prefix := range used {
			if prefix.Bits() > 0 && prefix.Overlaps(candidate) {
				free = false
				break
			}
		}
		if free {
			return candidate, true
		}
	}
	return netip.Prefix{}, false
}

// usedPrefixes lists the IPv4 addresses and routes of the root namespace and the IPv4
// addresses of every named network namespace.
func usedPrefixes(ctx context.Context) ([]netip.Prefix, error) {
	out, err := run(ctx, "ip", "-j", "-4", "addr", "show")
	if err != nil {
		return nil, err
	}
	used, err := parseAddrJSON(out)
	if err != nil {
		return nil, err
	}

	out, err = run(ctx, "ip", "-j", "-4", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	routes, err := parseRouteJSON(out)
	if err != nil {
		return nil, err
	}
	used = append(used, routes...)

	names, err := namedNamespaces()
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		out, err := run(ctx, "ip", "-n", name, "-j", "-4", "addr", "show")
		if err != nil {
			// The namespace may have been deleted since it was listed.
			if _, statErr := os.Stat(filepath.Join("/run/netns", name)); errors.Is(statErr, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		addrs, err := parseAddrJSON(out)
		if err != nil {
			return nil, err
		}
		used = append(used, addrs...)
	}
	return used, nil
}

// namedNamespaces lists the network namespaces that `ip netns add` created.
func namedNamespaces() ([]string, error) {
	entries, err := os.ReadDir("/run/netns")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, entry := range entries {
		names = append(names, entry.Name())
	}
	return names, nil
}

// parseAddrJSON returns the subnets of the addresses in `ip -j addr show` output.
func parseAddrJSON(data []byte) ([]netip.Prefix, error) {
	var links []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(data, &links); err != nil {
		return nil, fmt.Errorf("parse ip addr output: %w", err)
	}
	var prefixes []netip.Prefix
	for _, link := range links {
		for _, info := range link.AddrInfo {
			addr, err := netip.ParseAddr(info.Local)
			if err != nil {
				return nil, fmt.Errorf("parse ip addr output: %w", err)
			}
			prefix, err := addr.Prefix(info.PrefixLen)
			if err != nil {
				return nil, fmt.Errorf("parse ip addr output: %w", err)
			}
			prefixes = append(prefixes, prefix)
		}
	}
	return prefixes, nil
}

// parseRouteJSON returns the destinations in `ip -j route show` output. "default" becomes
// 0.0.0.0/0 and a bare address a /32.
func parseRouteJSON(data []byte) ([]netip.Prefix, error) {
	var routes []struct {
		Dst string `json:"dst"`
	}
	if err := json.Unmarshal(data, &routes); err != nil {
		return nil, fmt.Errorf("parse ip route output: %w", err)
	}
	var prefixes []netip.Prefix
	for _, route := range routes {
		var prefix netip.Prefix
		var err error
		switch {
		case route.Dst == "default":
			prefix = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		case strings.Contains(route.Dst, "/"):
			prefix, err = netip.ParsePrefix(route.Dst)
		default:
			var addr netip.Addr
			addr, err = netip.ParseAddr(route.Dst)
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("parse ip route output: destination %q: %w", route.Dst, err)
		}
		prefixes = append(prefixes, prefix.Masked())
	}
	return prefixes, nil
}

// deleteNetwork deletes the host-side veth, if it is a veth, and the namespace. Deleting either
// end of a veth pair deletes both.
func (d *Device) deleteNetwork(ctx context.Context) error {
	var errs []error
	if _, err := net.InterfaceByName(d.HostVeth); err == nil {
		// The kernel also deletes the pair by itself, a moment after the last process leaves a
		// namespace that has no name. A failed delete therefore counts only if the veth stays.
		if err := d.deleteHostVeth(ctx); err != nil && !waitInterfaceGone(ctx, d.HostVeth) {
			errs = append(errs, err)
		}
	}
	if _, err := os.Lstat(d.netnsPath()); err == nil {
		if _, err := run(ctx, "ip", "netns", "delete", d.Namespace); err != nil {
			errs = append(errs, fmt.Errorf("delete network namespace: %w", err))
		}
	}
	return errors.Join(errs...)
}

// waitInterfaceGone polls for up to two seconds until the named interface no longer exists,
// and reports whether it is gone.
func waitInterfaceGone(ctx context.Context, name string) bool {
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, err := net.InterfaceByName(name); err != nil {
			return true
		}
		if time.Now().After(deadline) || sleepContext(ctx, 10*time.Millisecond) != nil {
			return false
		}
	}
}

// deleteHostVeth deletes the host-side interface after checking that it is a veth, so that a
// foreign interface that happens to have the same name survives.
func (d *Device) deleteHostVeth(ctx context.Context) error {
	out, err := run(ctx, "ip", "-d", "-j", "link", "show", "dev", d.HostVeth)
	if err != nil {
		return fmt.Errorf("inspect interface %s: %w", d.HostVeth, err)
	}
	var links []struct {
		LinkInfo struct {
			Kind string `json:"info_kind"`
		} `json:"linkinfo"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return fmt.Errorf("inspect interface %s: parse ip link output: %w", d.HostVeth, err)
	}
	if len(links) != 1 || links[0].LinkInfo.Kind != "veth" {
		return fmt.Errorf("delete interface %s: it is not a veth, so this package did not create "+
			"it; rename the device or delete the interface by hand", d.HostVeth)
	}
	if _, err := run(ctx, "ip", "link", "delete", "dev", d.HostVeth); err != nil {
		return fmt.Errorf("delete interface %s: %w", d.HostVeth, err)
	}
	return nil
}
