resource "iotfleet_device" "gateway" {
  host     = "192.0.2.10"
  host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
}

# Containers on "apps" reach each other and, masqueraded, the network behind the device.
resource "iotfleet_network" "apps" {
  device    = iotfleet_device.gateway.target
  name      = "apps"
  mode      = "nat"
  ipv4_cidr = "10.80.0.1/24"
}

# A web server from a rootfs tarball, pinned by its SHA-256. It keeps one capability and runs
# with tighter limits than the defaults, at a fixed address on "apps".
resource "iotfleet_container" "web" {
  device = iotfleet_device.gateway.target
  name   = "web"

  rootfs = {
    tarball        = "${path.module}/images/web-rootfs.tar.gz"
    tarball_sha256 = "0c6fa83ab1c5f6e6cc1e0a8d8a5b1a4dbb1b6cbb1f1f0b4b0d8e2a9b0c7c1f3e"
  }

  command     = ["/bin/httpd", "-f", "-p", "80", "-h", "/srv/www"]
  environment = { LOG_LEVEL = "info" }
  user        = 33
  group       = 33

  files = [
    {
      path    = "/srv/www/index.html"
      content = "<h1>gateway</h1>\n"
      uid     = 33
      gid     = 33
    },
    {
      # The state keeps only the SHA-256 of a source file, never its content.
      path   = "/etc/web/api-token"
      source = "${path.module}/secrets/api-token"
      mode   = "0400"
      uid    = 33
    },
  ]

  # Referencing the network's name makes Terraform create the network first and destroy it last.
  network {
    name         = iotfleet_network.apps.name
    ipv4_address = "10.80.0.10"
  }
  resolv_conf = "nameserver 10.80.0.1\n"

  capabilities = ["net_bind_service"]
  memory_limit = "64MiB"
  cpu_limit    = "0.5"
  pids_limit   = 32

  timeouts = {
    create = "20m"
  }
}

# A minimal container built from the device's own busybox, with every hardening default:
# no capabilities, no_new_privs, read-only rootfs, 128MiB of memory and 128 processes. It gets
# the lowest free address on "apps", which it keeps until the network block is removed.
resource "iotfleet_container" "probe" {
  device  = iotfleet_device.gateway.target
  name    = "probe"
  rootfs  = { busybox = true }
  command = ["/bin/sh", "-c", "while true; do nc -w 5 10.80.0.10 80 < /dev/null && date; sleep 60; done"]

  network {
    name = iotfleet_network.apps.name
  }
}
