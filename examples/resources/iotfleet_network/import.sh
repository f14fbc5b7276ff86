# A network is imported by user@host:port/name of its device and its name; put an IPv6
# address in brackets. The provider's known_hosts_file must list the device.
terraform import iotfleet_network.apps 'root@192.0.2.10:22/apps'
terraform import iotfleet_network.sensors 'root@[2001:db8::7]:22/sensors'
