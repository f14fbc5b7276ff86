resource "iotfleet_device" "gateway" {
  host     = "192.0.2.10"
  host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
}

# Containers on "apps" reach each other, the device and, masqueraded, the network behind the
# device's default route.
resource "iotfleet_network" "apps" {
  device    = iotfleet_device.gateway.target
  name      = "apps"
  mode      = "nat"
  ipv4_cidr = "10.80.0.1/24"
}

# Sensors reach only the device, never each other, and the device routes none of their traffic.
resource "iotfleet_network" "sensors" {
  device    = iotfleet_device.gateway.target
  name      = "sensors"
  mode      = "isolated"
  ipv4_cidr = "10.81.0.1/24"
  mtu       = 1400
}

# NAT through a named interface instead of the default route's.
resource "iotfleet_network" "cellular" {
  device    = iotfleet_device.gateway.target
  name      = "cellular"
  mode      = "nat"
  ipv4_cidr = "192.168.50.1/24"
  uplink    = "wwan0"
}
