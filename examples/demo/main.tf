# The demo that `make demo` applies to a throwaway local device. It records what a small web
# workload calls, builds a default-deny seccomp profile from that recording, and runs the same
# workload under the profile on a NAT network.
#
# The workload fetches its page from an upstream server outside the device (through NAT), serves
# it with busybox httpd on port 8080 and requests it once from itself as a readiness check.
# scripts/demo.sh passes the device's address, host key and client key, and the upstream's URL,
# through TF_VAR_* variables, starts the upstream server, and afterwards checks the container.
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

variable "upstream_url" {
  description = "URL of the page that the workload fetches at its start, on a server outside the device."
  type        = string
}

variable "workload_revision" {
  description = "Revision of the workload script. Revision 2 also keeps a copy of the page under /tmp/cache, so it makes calls that revision 1 does not; scripts/demo.sh update switches to it to show the update flow."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 2], var.workload_revision)
    error_message = "The workload_revision must be 1 or 2."
  }
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

# A NAT network: containers reach each other, the device and, masqueraded to the device's
# address, what lies behind the uplink.
resource "iotfleet_network" "demo" {
  device    = iotfleet_device.demo.target
  name      = "demo"
  mode      = "nat"
  ipv4_cidr = "10.80.0.1/24"
  uplink    = "eth0"
}

locals {
  # The workload: fetch the page, serve it, check once that it is served, then wait for the
  # stop signal. The readiness check sleeps before every try, so each run makes the same calls
  # whether httpd listens at the first try or not. The shell is the container's PID 1, which
  # the kernel delivers only handled signals to, so it traps SIGTERM (LXC's halt signal here)
  # to stop httpd and exit.
  scripts = {
    1 = <<-EOT
      mkdir -p /tmp/www
      wget -q -O /tmp/www/index.html "$UPSTREAM_URL" || echo "upstream unreachable" >/tmp/www/index.html
      httpd -f -p 8080 -h /tmp/www &
      httpd=$!
      trap 'kill $httpd; exit 0' TERM
      until sleep 1 && wget -q -O /tmp/ready http://127.0.0.1:8080/; do :; done
      wait
    EOT
    2 = <<-EOT
      mkdir -p /tmp/www /tmp/cache
      wget -q -O /tmp/www/index.html "$UPSTREAM_URL" || echo "upstream unreachable" >/tmp/www/index.html
      ln -f /tmp/www/index.html /tmp/cache/index.html
      httpd -f -p 8080 -h /tmp/www &
      httpd=$!
      trap 'kill $httpd; exit 0' TERM
      until sleep 1 && wget -q -O /tmp/ready http://127.0.0.1:8080/; do :; done
      wait
    EOT
  }

  # Everything the recorded twin and the enforced container share. A changed command restarts
  # a container; a changed file would not.
  workload = {
    command     = ["/bin/sh", "-c", local.scripts[var.workload_revision]]
    environment = { UPSTREAM_URL = var.upstream_url }
  }
}

# The twin that the recording starts: the same workload with no profile. A container cannot
# load a profile built from its own recording (that is a dependency cycle), and recording a
# start needs the container stopped.
resource "iotfleet_container" "web_recorder" {
  device      = iotfleet_device.demo.target
  name        = "web-recorder"
  rootfs      = { busybox = true }
  running     = false
  command     = local.workload.command
  environment = local.workload.environment
  user        = 33
  group       = 33

  network {
    name = iotfleet_network.demo.name
  }

  memory_limit = "32MiB"
  pids_limit   = 16
}

# Starts the twin twice, records every process for 6 seconds each time and joins the runs. A
# change of the command records again.
resource "iotfleet_seccomp_recording" "web" {
  device           = iotfleet_device.demo.target
  name             = "web"
  container        = iotfleet_container.web_recorder.name
  duration_seconds = 6
  runs             = 2
  triggers = {
    command = sha256(jsonencode(local.workload.command))
  }
}

# Allows what the recording saw plus the runtime base that LXC and the container's init need.
# Any other call kills the caller, so a workload that keeps running and serves its page made no
# call the profile denies. (The product's default, ENOSYS, is kinder to programs that fall back
# to older calls; kill makes a denial impossible to miss in a demo.)
#
# syscalls adds what a recording cannot be relied on to see: busybox wget calls poll only when
# its read would block, which depends on how fast the upstream answers.
resource "iotfleet_seccomp_profile" "web" {
  device         = iotfleet_device.demo.target
  name           = "web"
  default_action = "kill"
  syscalls       = ["poll"]
  recordings     = [iotfleet_seccomp_recording.web.syscalls]
}

# The same workload, enforced: unprivileged as user 33 with its own host ID range, no
# capabilities, no_new_privs, a read-only rootfs, cgroup limits and the recorded profile.
resource "iotfleet_container" "web" {
  device      = iotfleet_device.demo.target
  name        = "web"
  rootfs      = { busybox = true }
  command     = local.workload.command
  environment = local.workload.environment
  user        = 33
  group       = 33

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
    helper_version  = iotfleet_device.demo.helper_version
  }
}

output "recording" {
  description = "How the workload was recorded and what it called."
  value = {
    mechanism = iotfleet_seccomp_recording.web.mechanism
    syscalls  = iotfleet_seccomp_recording.web.syscalls
    allowed   = length(iotfleet_seccomp_profile.web.allowed)
  }
}

output "web" {
  description = "The enforced container as the device reports it."
  value = {
    state           = iotfleet_container.web.state
    init_pid        = iotfleet_container.web.init_pid
    ipv4_address    = iotfleet_container.web.network[0].ipv4_address
    host_uid_start  = iotfleet_container.web.host_uid_start
    host_uid_end    = iotfleet_container.web.host_uid_start + iotfleet_container.web.idmap_size - 1
    rootfs_bytes    = iotfleet_container.web.rootfs_bytes
    seccomp_profile = iotfleet_container.web.seccomp_profile
  }
}
