#!/usr/bin/env bash
# Installs the Debian 12 packages that building, cross-building and testing the provider need.
# Safe to run again: apt-get skips what is already installed.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: run as root (apt-get and dpkg need it)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

packages=(
	lxc lxc-dev "liblxc1:$(dpkg --print-architecture)" golang-gopkg-lxc-go-lxc.v2-dev pkg-config
	busybox-static openssh-server openssh-client iproute2 nftables strace seccomp
	util-linux procps uidmap
	gcc libc6-dev gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf
	libc6-dev-arm64-cross libc6-dev-armhf-cross linux-libc-dev linux-libc-dev-arm64-cross linux-libc-dev-armhf-cross
	liblxc1:arm64 liblxc1:armhf qemu-user-static
)

# --if-missing returns at once when every package and link is in place, so `make` targets can
# call this on each run without touching apt.
if [[ ${1-} == --if-missing ]] && dpkg -s "${packages[@]}" >/dev/null 2>&1 &&
	[[ -e /usr/lib/aarch64-linux-gnu/liblxc.so && -e /usr/lib/arm-linux-gnueabihf/liblxc.so ]]; then
	mkdir -p /run/sshd
	exit 0
fi

# The helper is cross-built for arm64 and armhf against those architectures' liblxc.
dpkg --add-architecture arm64
dpkg --add-architecture armhf

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

# Debian ships liblxc.so (the link-time name) only in lxc-dev, which exists for one architecture
# at a time, so the cross builds link against the versioned library through a symlink.
for triple in aarch64-linux-gnu arm-linux-gnueabihf; do
	lib=$(ls /usr/lib/"$triple"/liblxc.so.1* 2>/dev/null | head -n 1 || true)
	if [[ -z "$lib" ]]; then
		echo "install-deps: liblxc for $triple is missing after apt-get" >&2
		exit 1
	fi
	ln -sf "$(basename "$lib")" /usr/lib/"$triple"/liblxc.so
done

# The sshd of a local device needs its privilege separation folder.
mkdir -p /run/sshd
echo "install-deps: done"
