# A device is imported by user@host:port; put an IPv6 address in brackets.
terraform import iotfleet_device.gateway root@192.0.2.10:22
terraform import iotfleet_device.sensor 'root@[2001:db8::7]:2222'
