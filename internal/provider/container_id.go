package provider

import (
	"fmt"
	"strings"
)

// parseContainerID parses an import ID of the form user@host:port/name. The device part
// follows parseDeviceID, so user and port may be left out and an IPv6 host goes in brackets.
func parseContainerID(id, defaultUser string) (user, host string, port int, name string, err error) {
	const form = "use user@host:port/name, for example root@192.0.2.10:22/web or root@[2001:db8::10]:22/web"
	// Neither a host nor a container name contains "/", so the first one separates them.
	slash := strings.Index(id, "/")
	if slash < 0 {
		return "", "", 0, "", fmt.Errorf("invalid import ID %q: the container name is missing; %s", id, form)
	}
	deviceID, name := id[:slash], id[slash+1:]
	if err := validateContainerName(name); err != nil {
		return "", "", 0, "", fmt.Errorf("invalid import ID %q: %w", id, err)
	}
	user, host, port, err = parseDeviceID(deviceID, defaultUser)
	if err != nil {
		return "", "", 0, "", err
	}
	return user, host, port, name, nil
}
