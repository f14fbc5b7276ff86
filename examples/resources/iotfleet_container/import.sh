# A container is imported by user@host:port/name; put an IPv6 address in brackets.
# The device's host key is then checked against the provider's known_hosts_file, and
# state_dir and lxc_path take their defaults.
terraform import iotfleet_container.web root@192.0.2.10:22/web
terraform import iotfleet_container.probe 'root@[2001:db8::7]:2222/probe'
