//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// providerBlock is shared by both configurations: the device's client key, no SSH agent.
const providerBlock = `terraform {
  required_providers {
    iotfleet = {
      source = "iotfleet/iotfleet"
    }
  }
}

variable "private_key_file" {
  type = string
}

provider "iotfleet" {
  private_key_file = var.private_key_file
  agent_socket     = ""
}
`

// deviceConfig installs the helper and, when anchor is true, one busybox container. The
// helper removes the shared busybox base with the last container that uses it, so the anchor
// keeps the base in place and the measured applies do not rebuild it. The timed commands thus
// run against a device that is already set up, as the reference figures ran against a
// running LXD with its image at hand.
const deviceConfig = providerBlock + `
variable "anchor" {
  type = bool
}

variable "name_prefix" {
  type = string
}

variable "host" {
  type = string
}

variable "port" {
  type = number
}

variable "host_key" {
  type = string
}

resource "iotfleet_device" "bench" {
  host     = var.host
  port     = var.port
  host_key = var.host_key
}

resource "iotfleet_container" "anchor" {
  count  = var.anchor ? 1 : 0
  device = iotfleet_device.bench.target
  name   = "${var.name_prefix}-anchor"
  rootfs = { busybox = true }
}

output "target" {
  value = iotfleet_device.bench.target
}
`

// containersConfig holds only the measured containers, so `terraform destroy` removes them
// and nothing else. It has no outputs, which would make a plan with no containers show a change. Each keeps the hardening defaults: its own ID range, no capabilities,
// no_new_privs, a read-only rootfs, 128MiB of memory and 128 processes, and no seccomp profile.
const containersConfig = providerBlock + `
variable "device" {
  type = object({
    host      = string
    port      = number
    user      = string
    host_key  = string
    arch      = string
    state_dir = string
    lxc_path  = string
  })
}

variable "containers" {
  type = number
}

variable "name_prefix" {
  type = string
}

resource "iotfleet_container" "bench" {
  count  = var.containers
  device = var.device
  name   = "${var.name_prefix}-${count.index}"
  rootfs = { busybox = true }
}
`

// cliConfig points Terraform at the folder that holds the provider, so it needs no init.
const cliConfig = `provider_installation {
  dev_overrides {
    "iotfleet/iotfleet" = %q
  }
  direct {}
}
`

// writeModule writes main.tf and terraform.tfvars.json into a new folder dir.
func writeModule(dir, config string, vars map[string]any) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create module folder: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o600); err != nil {
		return fmt.Errorf("write module %s: %w", dir, err)
	}
	encoded, err := json.MarshalIndent(vars, "", "  ")
	if err != nil {
		return fmt.Errorf("encode variables of module %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), encoded, 0o600); err != nil {
		return fmt.Errorf("write variables of module %s: %w", dir, err)
	}
	return nil
}

// writeCLIConfig writes a Terraform CLI configuration whose dev_overrides name pluginDir.
func writeCLIConfig(path, pluginDir string) error {
	if err := os.WriteFile(path, fmt.Appendf(nil, cliConfig, pluginDir), 0o600); err != nil {
		return fmt.Errorf("write terraform CLI configuration: %w", err)
	}
	return nil
}
