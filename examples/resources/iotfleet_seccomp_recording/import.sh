# A recording is imported by user@host:port/name; the stored result is read back. The device
# must use the default state_dir and lxc_path, and the provider's known_hosts_file must list it.
terraform import iotfleet_seccomp_recording.web 'root@192.0.2.10:22/web'
