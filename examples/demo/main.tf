# The demo that `make demo` applies to a throwaway local device. scripts/demo.sh passes the
# device's address, host key and client key through TF_VAR_* variables.
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
