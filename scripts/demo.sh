#!/usr/bin/env bash
# Runs examples/demo against a throwaway local device.
#   scripts/demo.sh up       start the device "demo" if needed, apply the example and check
#                            the device. The example records the workload, builds its profile
#                            and runs the workload under it.
#   scripts/demo.sh update   record revision 2 of the workload, show the plan it makes, apply it
#   scripts/demo.sh down     destroy the example's resources and stop the device
#   scripts/demo.sh check    run up, update and down on a device and folder of their own
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

# upstream_port is where the upstream server listens, on the host side of the device's link.
upstream_port=18080

# device_vars passes the running device to Terraform as input variables.
device_vars() {
	local env
	env=$("$localdevice" env -name "$name")
	eval "$env"
	export TF_VAR_host=$IOTFLEET_HOST TF_VAR_port=$IOTFLEET_PORT
	export TF_VAR_host_key=$IOTFLEET_HOST_KEY TF_VAR_private_key_file=$IOTFLEET_PRIVATE_KEY_FILE
	export TF_VAR_upstream_url=http://$IOTFLEET_OUTSIDE_ADDRESS:$upstream_port/
}

# start_upstream serves the workload's page from outside the device: busybox httpd on the host
# side of the device's link, so the container reaches it only through the NAT network. It
# logs each client's address to $upstream_log and stops when this script exits.
start_upstream() {
	[[ -z ${upstream_pid-} ]] || return 0
	local dir=$IOTFLEET_DEVICE_DIR/upstream
	mkdir -p "$dir"
	printf 'hello from the upstream server, fetched through NAT at %s\n' "$(date -u +%FT%TZ)" >"$dir/index.html"
	upstream_log=$dir/access.log
	: >"$upstream_log"
	busybox httpd -f -v -p "$IOTFLEET_OUTSIDE_ADDRESS:$upstream_port" -h "$dir" 2>>"$upstream_log" &
	upstream_pid=$!
	wait_upstream
	upstream_page=$(<"$dir/index.html")
}

# wait_upstream waits up to 5 s until the upstream server answers, and fails with its log when
# it exits first, for example because another program listens on its port.
wait_upstream() {
	local i
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$upstream_pid" 2>/dev/null; then
			echo "demo: the upstream server on $IOTFLEET_OUTSIDE_ADDRESS:$upstream_port exited: $(<"$upstream_log")" >&2
			upstream_pid=
			exit 1
		fi
		if busybox wget -q -O /dev/null "http://$IOTFLEET_OUTSIDE_ADDRESS:$upstream_port/" 2>/dev/null; then
			: >"$upstream_log"
			return
		fi
		sleep 0.05
	done
	echo "demo: the upstream server on $IOTFLEET_OUTSIDE_ADDRESS:$upstream_port does not respond after 5 s" >&2
	exit 1
}

# on_exit stops the upstream server and, after a check, removes what the check made.
on_exit() {
	stop_upstream
	if [[ -n ${check_dir-} ]]; then
		down
		rm -rf "$check_dir"
	fi
}
trap on_exit EXIT

stop_upstream() {
	if [[ -n ${upstream_pid-} ]]; then
		kill "$upstream_pid" 2>/dev/null || true
		wait "$upstream_pid" 2>/dev/null || true
		upstream_pid=
	fi
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
	start_upstream
	echo "demo: device $TF_VAR_host:$TF_VAR_port is up; applying examples/demo"
	terraform -chdir="$workdir" apply -auto-approve -input=false
	check_all
	echo "demo: no changes. Run 'make demo-update' to change the workload, 'make demo-down' to remove everything."
}

# update changes the workload to revision 2, records it again without touching the enforced
# container, shows the plan that the new recording makes, and applies it: the review step of
# a workload update.
update() {
	device_running || { echo "demo: the device is not running; run 'make demo' first" >&2; exit 1; }
	write_cli_config
	device_vars
	start_upstream
	export TF_VAR_workload_revision=2
	echo "demo: recording revision 2 of the workload in the twin container"
	terraform -chdir="$workdir" apply -auto-approve -input=false -compact-warnings \
		-target=iotfleet_seccomp_recording.web
	echo "demo: the plan that the new recording makes: the profile's added and removed syscalls"
	terraform -chdir="$workdir" plan -input=false -out="$workdir/update.tfplan"
	terraform -chdir="$workdir" apply -input=false "$workdir/update.tfplan"
	rm -f "$workdir/update.tfplan"
	check_all
	echo "demo: no changes. Run 'make demo-down' to remove everything."
}

# check_all checks the enforced workload, the recording and the empty plan.
check_all() {
	check_workload
	check_recording
	echo "demo: a second plan must show no changes"
	terraform -chdir="$workdir" plan -detailed-exitcode -input=false >/dev/null
}

# check_workload checks the enforced container "web". It requests the page over the NAT
# network's bridge from the device's own network namespace (iotf-NAME), as a program on the
# device would. Then it reads the result of the workload's own readiness request and checks
# the upstream server's clients and the profile's enforcement.
check_workload() {
	local web pid address response ready
	web=$(terraform -chdir="$workdir" output -json web)
	pid=$(sed -n 's/.*"init_pid":\([0-9]*\).*/\1/p' <<<"$web")
	address=$(sed -n 's/.*"ipv4_address":"\([0-9.]*\)".*/\1/p' <<<"$web")
	if [[ -z $pid || $pid == 0 || -z $address ]]; then
		echo "demo: container web reports no init PID or no address, so it is not running: $web" >&2
		exit 1
	fi
	wait_listening "$pid" 8080
	echo "demo: the workload (host PID $pid) runs as $(process_facts "$pid")"

	response=$(printf 'GET / HTTP/1.0\r\n\r\n' |
		timeout 10 nsenter --net="/run/netns/iotf-$name" busybox nc "$address" 8080) || {
		echo "demo: httpd in container web did not respond on $address:8080; see the error above" >&2
		exit 1
	}
	if [[ $response != "HTTP/1.1 200 OK"* || $response != *"hello from the upstream server"* ]]; then
		printf 'demo: httpd in container web responded, but not with the upstream page:\n%s\n' "$response" >&2
		exit 1
	fi
	echo "demo: the device requested http://$address:8080/ and httpd responded $(head -n 1 <<<"$response" | tr -d '\r')"

	ready=$(wait_file "/proc/$pid/root/tmp/ready")
	if [[ $ready != "hello from the upstream server"* ]]; then
		echo "demo: the workload's readiness request under the profile got no page: '$ready'" >&2
		exit 1
	fi
	echo "demo: the workload fetched its page through NAT and its own readiness request succeeded"
	check_upstream_clients
	check_enforced "$pid" "$(json_number host_uid_start "$web")" "$(json_number host_uid_end "$web")"
}

# json_number prints the number of key $1 in the one-line JSON object $2.
json_number() {
	sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$2"
}

# check_upstream_clients shows the client addresses that the upstream server logged: with NAT,
# the device's own address, never a container's.
check_upstream_clients() {
	local clients
	clients=$(sed -n 's/^\([0-9.]*\):[0-9]*: response:.*/\1/p' "$upstream_log" | sort -u | tr '\n' ' ')
	if [[ -z $clients ]]; then
		echo "demo: no container started in this run, so the upstream server saw no request"
		return
	fi
	if [[ $clients != "$IOTFLEET_HOST " ]]; then
		echo "demo: the upstream server saw clients $clients; want only the device's address $IOTFLEET_HOST" >&2
		exit 1
	fi
	echo "demo: the upstream server outside the device saw the device's address $IOTFLEET_HOST, masqueraded"
}

# check_enforced checks that the kernel killed no process of the workload for a denied call
# since the container started. Then it runs a call that the recording never saw (ioprio_get,
# from busybox ionice) in the enforced container, which the profile's default action kills.
check_enforced() {
	local pid=$1 uid_start=$2 uid_end=$3 status=0 state denials
	denials=$(seccomp_kills "$(process_start "$pid")" "$uid_start" "$uid_end") || {
		echo "demo: cannot read the kernel log, so the check for denied calls is skipped"
		denials=
	}
	if [[ -n $denials ]]; then
		printf 'demo: the kernel killed processes of container web for denied calls:\n%s\n' "$denials" >&2
		exit 1
	fi
	echo "demo: the kernel logged no denied call of the workload since the container started"
	device_ssh lxc-attach -n web -- /bin/ionice -p 1 >/dev/null 2>&1 || status=$?
	if [[ $status -ne $((128 + 31)) ]]; then
		echo "demo: ionice in container web exited with $status; want 159, killed by SIGSYS (31)" >&2
		exit 1
	fi
	state=$(device_ssh lxc-info -n web -s -H)
	if [[ $state != RUNNING ]]; then
		echo "demo: container web is $state after the workload ran; want RUNNING" >&2
		exit 1
	fi
	echo "demo: a call the recording never saw (ioprio_get) was killed; the workload, which made none, still runs"
}

# process_start prints when process $1 started, in seconds since the epoch: its start time in
# clock ticks after boot (field 22 of /proc/PID/stat) plus the boot time from /proc/stat.
process_start() {
	local stat ticks boot
	stat=$(<"/proc/$1/stat")
	read -ra fields <<<"${stat##*) }"
	ticks=${fields[19]}
	boot=$(awk '$1 == "btime" { print $2 }' /proc/stat)
	echo $((boot + ticks / $(getconf CLK_TCK)))
}

# seccomp_kills prints the kernel's audit records (type 1326) of seccomp kills logged at or
# after epoch second $1 for host uids $2 to $3, except those of the ionice that check_enforced
# runs on purpose. The kernel logs kill actions even without an audit daemon; with one
# running, they go to its log instead and none are found here.
seccomp_kills() {
	dmesg --notime 2>/dev/null | awk -v since="$1" -v low="$2" -v high="$3" '
		/type=1326/ && !/comm="ionice"/ {
			match($0, /audit\([0-9]+/); at = substr($0, RSTART + 6, RLENGTH - 6)
			match($0, / uid=[0-9]+/); uid = substr($0, RSTART + 5, RLENGTH - 5)
			if (at + 0 >= since - 1 && uid + 0 >= low && uid + 0 <= high) print
		}'
	[[ ${PIPESTATUS[0]} -eq 0 ]]
}

# device_ssh runs a command on the device over SSH, as an operator would.
device_ssh() {
	local known_hosts=$IOTFLEET_DEVICE_DIR/demo_known_hosts entry=$IOTFLEET_HOST
	# known_hosts names a host on port 22 without the brackets.
	[[ $IOTFLEET_PORT == 22 ]] || entry="[$IOTFLEET_HOST]:$IOTFLEET_PORT"
	echo "$entry $IOTFLEET_HOST_KEY" >"$known_hosts"
	ssh -q -i "$IOTFLEET_PRIVATE_KEY_FILE" -p "$IOTFLEET_PORT" -o BatchMode=yes -o IdentitiesOnly=yes \
		-o UserKnownHostsFile="$known_hosts" -o GlobalKnownHostsFile=/dev/null \
		"root@$IOTFLEET_HOST" "$@"
}

# check_recording prints how the workload was recorded and what the profile allows.
check_recording() {
	local recording
	recording=$(terraform -chdir="$workdir" output -json recording)
	echo "demo: recording and profile: $recording"
}

# wait_file prints file $1 once it has content, waiting up to 10 s.
wait_file() {
	local i
	for ((i = 0; i < 200; i++)); do
		if [[ -s $1 ]]; then
			cat "$1"
			return
		fi
		sleep 0.05
	done
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

# check runs the demo the way the README describes it, on a device named demo-check and a copy
# of the example, so that `make test` proves the README's first command without touching a
# demo that is running.
check() {
	name=demo-check
	check_dir=$(mktemp -d)
	workdir=$check_dir
	cp "$repo/examples/demo/main.tf" "$workdir/"
	up
	update
}

case ${1-} in
up) up ;;
update) update ;;
down) down ;;
check) check ;;
*)
	echo "usage: $0 up|update|down|check" >&2
	exit 2
	;;
esac
