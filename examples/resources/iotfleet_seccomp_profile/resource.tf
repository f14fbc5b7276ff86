resource "iotfleet_device" "gateway" {
  host     = "192.0.2.10"
  host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
}

# A default-deny policy for a small HTTP server. Every syscall that is neither listed nor in
# the runtime base fails with ENOSYS; ptrace kills the caller and mkdir fails with EACCES.
resource "iotfleet_seccomp_profile" "web" {
  device = iotfleet_device.gateway.target
  name   = "web"

  syscalls = [
    "accept4", "bind", "epoll_create1", "epoll_ctl", "epoll_pwait", "getsockname", "listen",
    "recvfrom", "sendfile", "setsockopt", "shutdown",
  ]

  rules = [
    { syscall = "ptrace", action = "kill" },
    { syscall = "mkdir", action = "errno 13" },
  ]
}

# A container that loads the policy. Each change of the policy changes its path, so the plan
# shows the container's seccomp_profile change, and the restart that loads it, next to the
# profile's update.
resource "iotfleet_container" "web" {
  device          = iotfleet_device.gateway.target
  name            = "web"
  rootfs          = { busybox = true }
  command         = ["/bin/httpd", "-f", "-p", "8080", "-h", "/srv/www"]
  seccomp_profile = iotfleet_seccomp_profile.web.path
}

output "allowed_for_lxc_and_init" {
  value = iotfleet_seccomp_profile.web.runtime_base
}
