# The demo that `make demo` applies to a throwaway local device: the device, a seccomp profile
# and a hardened busybox container that serves a page with httpd. scripts/demo.sh passes the
# device's address, host key and client key through TF_VAR_* variables, and afterwards asks
# the container's httpd for the page.
terraform {
  required_providers {
    iotfleet = {
      source = "iotfleet/iotfleet"
    }
  }
}

variable "host" {
  description = "Address of the device."
  type        = string
}

variable "port" {
  description = "SSH port of the device."
  type        = number
  default     = 22
}

variable "host_key" {
  description = "SSH host public key of the device, as ssh-keyscan prints it."
  type        = string
}

variable "private_key_file" {
  description = "SSH private key that logs in to the device."
  type        = string
}

provider "iotfleet" {
  private_key_file = var.private_key_file
  agent_socket     = ""
}

resource "iotfleet_device" "demo" {
  host     = var.host
  port     = var.port
  host_key = var.host_key
}

# A default-deny seccomp policy for busybox httpd. The profile adds the runtime base that LXC and
# the container's init need, and `syscalls` lists what httpd calls beyond it to serve a file, as
# strace showed for Debian 12's busybox-static 1.35. Anything else fails with ENOSYS, and
# ptrace kills the caller.
resource "iotfleet_seccomp_profile" "web" {
  device = iotfleet_device.demo.target
  name   = "web"

  syscalls = [
    "accept", "bind", "getcwd", "listen", "lseek", "sendfile", "setsockopt", "shutdown",
  ]

  rules = [{ syscall = "ptrace", action = "kill" }]
}

# An isolated network: its containers reach the device, never each other, and the device
# routes none of their traffic.
resource "iotfleet_network" "demo" {
  device    = iotfleet_device.demo.target
  name      = "demo"
  mode      = "isolated"
  ipv4_cidr = "10.80.0.1/24"
}

# busybox httpd serving one page on port 8080 of the container's address on the network. It
# runs as user 33 with no capabilities, no_new_privs, a read-only rootfs and the policy above.
# NOTE: httpd is the container's init and has no SIGTERM handler, so it ignores the stop signal
# and `make demo-down` waits for the helper's 10 s stop timeout before the kill.
resource "iotfleet_container" "web" {
  device  = iotfleet_device.demo.target
  name    = "web"
  rootfs  = { busybox = true }
  command = ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]
  user    = 33
  group   = 33

  files = [{
    path    = "/www/index.html"
    content = "hello from a hardened iotfleet container\n"
  }]

  network {
    name = iotfleet_network.demo.name
  }

  memory_limit    = "32MiB"
  pids_limit      = 16
  seccomp_profile = iotfleet_seccomp_profile.web.path
}

output "device" {
  description = "What the provider found on the device."
  value = {
    id              = iotfleet_device.demo.id
    arch            = iotfleet_device.demo.arch
    kernel_release  = iotfleet_device.demo.kernel_release
    lxc_version     = iotfleet_device.demo.lxc_version
    cgroup_layout   = iotfleet_device.demo.cgroup_layout
    seccomp_actions = iotfleet_device.demo.seccomp_actions
    apparmor        = iotfleet_device.demo.apparmor
    helper_version  = iotfleet_device.demo.helper_version
    helper_sha256   = iotfleet_device.demo.helper_sha256
  }
}

output "web" {
  description = "The container as the device reports it."
  value = {
    state           = iotfleet_container.web.state
    init_pid        = iotfleet_container.web.init_pid
    ipv4_address    = iotfleet_container.web.network[0].ipv4_address
    host_uid_range  = "${iotfleet_container.web.host_uid_start}-${iotfleet_container.web.host_uid_start + iotfleet_container.web.idmap_size - 1}"
    rootfs_bytes    = iotfleet_container.web.rootfs_bytes
    seccomp_profile = iotfleet_container.web.seccomp_profile
  }
}
