provider "iotfleet" {
  # One key logs in to every device; it never reaches Terraform state.
  private_key_file = pathexpand("~/.ssh/iotfleet_ed25519")

  # Devices without a pinned host_key are checked against this file, which is only read.
  known_hosts_file = pathexpand("~/.ssh/known_hosts")

  user            = "root"
  connect_timeout = "30s"
}
