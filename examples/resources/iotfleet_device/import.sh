# A device is imported by user@host:port; put an IPv6 address in brackets. The provider's
# known_hosts_file must list the device, unless the host key to pin follows the ID.
terraform import iotfleet_device.sensor 'root@[2001:db8::7]:2222'
terraform import iotfleet_device.gateway 'root@192.0.2.10:22 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'
