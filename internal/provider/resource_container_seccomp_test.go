package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

// compatContainerConfig runs the compat probe as a container workload under a default-deny
// profile, writing what the probe prints to /tmp/probe.out inside the container.
func compatContainerConfig(t *testing.T, dev *localdevice.Device, probe string, allowCompat bool) string {
	return deviceConfig(t, dev, dev.HostPublicKey) + fmt.Sprintf(`
resource "iotfleet_seccomp_profile" "compat" {
  device            = iotfleet_device.test.target
  name              = "compat"
  allow_compat_abis = %t
  syscalls = [
    "clock_nanosleep", "dup2", "getpid", "nanosleep", "openat", "read", "wait4", "write",
  ]
}

resource "iotfleet_container" "compat" {
  device          = iotfleet_device.test.target
  name            = "compat"
  rootfs          = { busybox = true }
  seccomp_profile = iotfleet_seccomp_profile.compat.path
  command         = ["/bin/sh", "-c", "/usr/local/bin/compatprobe >/tmp/probe.out 2>&1; exec sleep 100000"]
  files = [
    {
      path   = "/usr/local/bin/compatprobe"
      source = %q
      mode   = "0755"
    },
  ]
}
`, allowCompat, probe)
}

// checkProbeOutput reads what the probe printed inside the running container, through the
// container's init process on the device, and compares it with want.
func checkProbeOutput(t *testing.T, dev *localdevice.Device, want string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		container, ok := s.RootModule().Resources["iotfleet_container.compat"]
		if !ok {
			return fmt.Errorf("iotfleet_container.compat is not in state")
		}
		pid := container.Primary.Attributes["init_pid"]
		status := mustDeviceExec(t, dev, "cat", "/proc/"+pid+"/status")
		if !strings.Contains(status, "Seccomp:\t2") {
			return fmt.Errorf("the container's init runs without a seccomp filter:\n%s", status)
		}
		var out string
		var err error
		// The workload writes the file right after start; an empty file means it is not done yet.
		for attempt := 0; attempt < 50 && out == ""; attempt++ {
			out, err = deviceExec(t, dev, "cat", "/proc/"+pid+"/root/tmp/probe.out")
		}
		if err != nil {
			return fmt.Errorf("read the probe's output: %v: %s", err, out)
		}
		if out != want {
			return fmt.Errorf("the probe printed %q, want %q", out, want)
		}
		return nil
	}
}

func TestAccContainer_compatABIDenied(t *testing.T) {
	testAccPreCheck(t)
	probe := buildCompatProbe(t)
	dev := testDevice(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// The profile allows getpid, but only to 64-bit callers.
				Config: compatContainerConfig(t, dev, probe, false),
				Check:  checkProbeOutput(t, dev, "compat getpid: errno 38"),
			},
			{
				// Allowing the compat ABIs changes the policy's path, so the container restarts
				// with the new policy and without the compat filter.
				Config: compatContainerConfig(t, dev, probe, true),
				Check:  checkProbeOutput(t, dev, "compat getpid: ok"),
			},
		},
	})
}
