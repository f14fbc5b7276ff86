#!/usr/bin/env bash
# Runs examples/demo against a throwaway local device.
#   scripts/demo.sh up     start the device "demo" (if needed) and apply the example
#   scripts/demo.sh down   destroy the example's resources and stop the device
# `make demo` builds the provider first; run this script directly only after `make build`.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
name=demo
workdir=$repo/examples/demo
cli_config=$repo/bin/terraform.rc
localdevice=$repo/bin/localdevice

export CHECKPOINT_DISABLE=1
# Terraform installs nothing here: the provider comes from bin/ through dev_overrides.
export TF_CLI_CONFIG_FILE=$cli_config
export TF_IN_AUTOMATION=1

write_cli_config() {
	cat >"$cli_config" <<CONFIG
provider_installation {
  dev_overrides {
    "iotfleet/iotfleet" = "$repo/bin"
  }
  direct {}
}
CONFIG
}

device_running() {
	"$localdevice" env -name "$name" >/dev/null 2>&1
}

# device_vars passes the running device to Terraform as input variables.
device_vars() {
	local env
	env=$("$localdevice" env -name "$name")
	eval "$env"
	export TF_VAR_host=$IOTFLEET_HOST TF_VAR_port=$IOTFLEET_PORT
	export TF_VAR_host_key=$IOTFLEET_HOST_KEY TF_VAR_private_key_file=$IOTFLEET_PRIVATE_KEY_FILE
}

up() {
	[[ -x $repo/bin/terraform-provider-iotfleet ]] || { echo "demo: bin/terraform-provider-iotfleet is missing; run 'make demo'" >&2; exit 1; }
	write_cli_config
	if ! device_running; then
		# State left from an earlier device points at an address that no longer exists, and
		# Terraform would send its refresh there.
		rm -f "$workdir"/terraform.tfstate "$workdir"/terraform.tfstate.backup
		"$localdevice" start -name "$name" >/dev/null
	fi
	device_vars
	echo "demo: device $TF_VAR_host:$TF_VAR_port is up; applying examples/demo"
	terraform -chdir="$workdir" apply -auto-approve -input=false
	echo "demo: a second plan must show no changes"
	terraform -chdir="$workdir" plan -detailed-exitcode -input=false >/dev/null
	echo "demo: no changes. Run 'make demo-down' to remove everything."
}

down() {
	write_cli_config
	if device_running; then
		device_vars
		terraform -chdir="$workdir" destroy -auto-approve -input=false
		"$localdevice" stop -name "$name"
	fi
	rm -f "$workdir"/terraform.tfstate "$workdir"/terraform.tfstate.backup
}

case ${1-} in
up) up ;;
down) down ;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac
