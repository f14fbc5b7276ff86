resource "iotfleet_device" "gateway" {
  host     = "192.0.2.10"
  host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
}

# The server is recorded in a twin of the production container that loads no profile: a
# container cannot load a profile built from its own recording, because that would make a
# dependency cycle. Recording the start needs the container stopped.
resource "iotfleet_container" "web_recorder" {
  device  = iotfleet_device.gateway.target
  name    = "web-recorder"
  rootfs  = { busybox = true }
  running = false
  command = ["/bin/httpd", "-f", "-p", "8080", "-h", "/srv/www"]
}

# Starts the twin three times, records each start for 10 seconds and joins the runs. Only what
# the server does in that time is recorded. To record a command in a running container instead,
# set command, such as ["/bin/sh", "-c", "..."], in place of duration_seconds. Changing any
# argument, or the trigger, records again.
resource "iotfleet_seccomp_recording" "web" {
  device           = iotfleet_device.gateway.target
  name             = "web"
  container        = iotfleet_container.web_recorder.name
  duration_seconds = 10
  runs             = 3
  triggers = {
    release = "1.4.2"
  }
}

# The profile allows what the recording saw, for the device's native ABI. A new recording that
# adds a syscall shows in the plan as a change of allowed, and of the container's
# seccomp_profile path.
resource "iotfleet_seccomp_profile" "web" {
  device     = iotfleet_device.gateway.target
  name       = "web"
  syscalls   = ["accept4", "epoll_pwait"]
  recordings = [iotfleet_seccomp_recording.web.syscalls]
}

resource "iotfleet_container" "web" {
  device          = iotfleet_device.gateway.target
  name            = "web"
  rootfs          = { busybox = true }
  command         = ["/bin/httpd", "-f", "-p", "8080", "-h", "/srv/www"]
  seccomp_profile = iotfleet_seccomp_profile.web.path
}

output "recorded_syscalls" {
  value = iotfleet_seccomp_recording.web.syscalls
}
