package network

import (
	"errors"
	"fmt"
	"sort"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// InterfaceAddresses returns the IPv4 addresses, without prefix length and sorted, of each
// named interface in the network namespace of process pid, such as a container's init. An
// interface that does not exist there has none. The error wraps fs.ErrNotExist when the
// process is gone.
func InterfaceAddresses(pid int, names []string) (map[string][]string, error) {
	namespace, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, fmt.Errorf("open network namespace of process %d: %w", pid, err)
	}
	defer namespace.Close()
	handle, err := netlink.NewHandleAt(namespace)
	if err != nil {
		return nil, fmt.Errorf("open netlink in the network namespace of process %d: %w", pid, err)
	}
	defer handle.Close()

	result := make(map[string][]string, len(names))
	for _, name := range names {
		addresses, err := linkAddresses(handle, name)
		if err != nil {
			return nil, fmt.Errorf("read addresses of %s in the network namespace of process %d: %w", name, pid, err)
		}
		result[name] = addresses
	}
	return result, nil
}

// linkAddresses returns the sorted IPv4 addresses of the named interface in the network
// namespace of handle.
func linkAddresses(handle *netlink.Handle, name string) ([]string, error) {
	addresses := []string{}
	link, err := handle.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return addresses, nil
	}
	if err != nil {
		return nil, err
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return handle.AddrList(link, netlink.FAMILY_V4) })
	if err != nil {
		return nil, err
	}
	for _, addr := range addrs {
		addresses = append(addresses, addr.IP.String())
	}
	sort.Strings(addresses)
	return addresses, nil
}
