// Package localdevice runs throwaway test devices on the local Linux machine. Each device is a
// real OpenSSH server in its own network and mount namespace, which the provider reaches over
// SSH as it reaches a board on the network.
//
// A device named NAME gets the network namespace iotf-NAME and a veth pair whose host side is
// also called iotf-NAME and whose device side is eth0 inside the namespace. The pair carries a
// /24 from 10.213.0.0/16 that no interface, route or named namespace on the machine uses:
// 10.213.N.1 on the host side and 10.213.N.2, the device's address, inside. sshd runs in a
// private mount namespace in which the device's own folders are bind-mounted over /var/lib/lxc
// and /var/lib/iotfleet, so LXC containers created on one device are invisible to the others
// and to the host.
//
// Everything else a device owns lives in one folder (ROOT/NAME, ROOT defaulting to
// /tmp/iotfleet-devices): its host key, a client key pair for root, sshd_config, sshd.log and
// device.json, the state file that Load reads. Stop removes containers, processes, namespace,
// veth and folder, and it also cleans up a device that was left half-built by a crash.
//
// NOTE: a device is a test fixture, not a sandbox. Its mount namespace is a copy of the host's,
// so the client key is a root login to the host's file system. sshd listens only on the
// device's address, which other machines reach only if this host forwards IPv4 packets and
// their routes send 10.213.0.0/16 to it. Devices also share the host's cgroup tree, where LXC
// names a container's cgroups after the container alone, so two devices running containers of
// the same name at once see each other's cgroups.
//
// Starting and stopping devices needs root, iproute2, util-linux and openssh-server. The
// package runs only on Linux. On other systems it is empty.
package localdevice
