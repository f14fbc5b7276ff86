package provider

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// parseObjectID parses the import ID user@host:port/name of an object of kind ("container",
// "network", ...) on a device. The device part follows parseDeviceID, so user and port may be
// left out and an IPv6 host goes in brackets. validateName checks the name.
func parseObjectID(id, kind string, validateName func(string) error, defaultUser string) (user, host string, port int, name string, err error) {
	const form = "use user@host:port/name, for example root@192.0.2.10:22/web or root@[2001:db8::10]:22/web"
	// Neither a host nor an object name contains "/", so the first one separates them.
	deviceID, name, found := strings.Cut(id, "/")
	if !found {
		return "", "", 0, "", fmt.Errorf("invalid import ID %q: the %s name is missing; %s", id, kind, form)
	}
	if err := validateName(name); err != nil {
		return "", "", 0, "", fmt.Errorf("invalid import ID %q: %w", id, err)
	}
	user, host, port, err = parseDeviceID(deviceID, defaultUser)
	if err != nil {
		return "", "", 0, "", err
	}
	return user, host, port, name, nil
}

// parseContainerID parses a container's import ID, user@host:port/name.
func parseContainerID(id, defaultUser string) (user, host string, port int, name string, err error) {
	return parseObjectID(id, "container", validateContainerName, defaultUser)
}

// parseNetworkID parses a network's import ID, user@host:port/name.
func parseNetworkID(id, defaultUser string) (user, host string, port int, name string, err error) {
	return parseObjectID(id, "network", protocol.ValidateNetworkName, defaultUser)
}

// importedDeviceObject returns the device object of an imported resource. The host key and
// architecture stay null, so the provider's known_hosts_file verifies the device and Read fills
// both; state_dir and lxc_path take their defaults.
func importedDeviceObject(user, host string, port int) types.Object {
	return types.ObjectValueMust(targetAttrTypes, map[string]attr.Value{
		"host":      types.StringValue(host),
		"port":      types.Int64Value(int64(port)),
		"user":      types.StringValue(user),
		"host_key":  types.StringNull(),
		"state_dir": types.StringValue(device.DefaultStateDir),
		"lxc_path":  types.StringValue(device.DefaultLXCPath),
		"arch":      types.StringNull(),
	})
}
