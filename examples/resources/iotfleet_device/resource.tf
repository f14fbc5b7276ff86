# A gateway whose host key is pinned. Get the key with `ssh-keyscan -t ed25519 192.0.2.10`.
resource "iotfleet_device" "gateway" {
  host     = "192.0.2.10"
  host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
}

# A device verified through the provider's known_hosts_file, on a non-standard port.
resource "iotfleet_device" "sensor" {
  host = "sensor-7.example.net"
  port = 2222
  user = "root"
}

output "gateway_facts" {
  value = {
    arch          = iotfleet_device.gateway.arch
    kernel        = iotfleet_device.gateway.kernel_release
    cgroup_layout = iotfleet_device.gateway.cgroup_layout
  }
}
