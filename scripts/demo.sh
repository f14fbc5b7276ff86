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
	check_workload
	echo "demo: a second plan must show no changes"
	terraform -chdir="$workdir" plan -detailed-exitcode -input=false >/dev/null
	echo "demo: no changes. Run 'make demo-down' to remove everything."
}

# check_workload requests the page of busybox httpd in the container "web" from the device's
# own network namespace (iotf-NAME, as internal/localdevice names it), over the isolated
# network's bridge, as a program on the device would.
check_workload() {
	local web pid address response
	web=$(terraform -chdir="$workdir" output -json web)
	pid=$(sed -n 's/.*"init_pid":\([0-9]*\).*/\1/p' <<<"$web")
	address=$(sed -n 's/.*"ipv4_address":"\([0-9.]*\)".*/\1/p' <<<"$web")
	if [[ -z $pid || $pid == 0 || -z $address ]]; then
		echo "demo: container web reports no init PID or no address, so it is not running: $web" >&2
		exit 1
	fi
	wait_listening "$pid" 8080
	echo "demo: httpd (host PID $pid) runs as $(process_facts "$pid")"

	response=$(printf 'GET / HTTP/1.0\r\n\r\n' |
		timeout 10 nsenter --net="/run/netns/iotf-$name" busybox nc "$address" 8080) || {
		echo "demo: httpd in container web did not respond on $address:8080; see the error above" >&2
		exit 1
	}
	if [[ $response != "HTTP/1.1 200 OK"* || $response != *"hello from a hardened iotfleet container"* ]]; then
		printf 'demo: httpd in container web responded, but not with the page from files:\n%s\n' "$response" >&2
		exit 1
	fi
	echo "demo: the device requested http://$address:8080/ and httpd responded $(head -n 1 <<<"$response" | tr -d '\r')"
}

# wait_listening waits up to 10 s until process $1's network namespace has a TCP socket that
# listens on port $2 of any address, as the kernel lists it in /proc/PID/net/tcp and tcp6.
wait_listening() {
	local pid=$1 port address state i
	port=$(printf '%04X' "$2")
	for ((i = 0; i < 200; i++)); do
		while read -r _ address _ state _; do
			[[ $address == *":$port" && $state == 0A ]] && return 0
		done < <(cat "/proc/$pid/net/tcp" "/proc/$pid/net/tcp6")
		sleep 0.05
	done
	echo "demo: nothing listens on port $2 in container web after 10 s" >&2
	exit 1
}

# process_facts prints the host user, capabilities, no_new_privs and seccomp mode of process $1.
process_facts() {
	awk '$1 == "Uid:" { uid = $2 } $1 == "CapEff:" { caps = $2 }
		$1 == "NoNewPrivs:" { nnp = $2 } $1 == "Seccomp:" { mode = ($2 == 2 ? "filter" : $2) }
		END { printf "host uid %s, effective capabilities %s, no_new_privs %s, seccomp %s\n", uid, caps, nnp, mode }' \
		"/proc/$1/status"
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
