package provider

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// checkMechanismUsed accepts the mechanisms that a device reports for a recording.
func checkMechanismUsed(value string) error {
	if value != protocol.MechanismEBPF && value != protocol.MechanismPtrace {
		return fmt.Errorf("mechanism %q, want %q or %q", value, protocol.MechanismEBPF, protocol.MechanismPtrace)
	}
	return nil
}

func TestRecordingMechanismModifier(t *testing.T) {
	str := types.StringValue
	cases := map[string]struct {
		config, state types.String
		wantPlan      types.String
		wantReplace   bool
	}{
		"create unset":          {config: types.StringNull(), state: types.StringNull(), wantPlan: types.StringUnknown()},
		"unset keeps ebpf":      {config: types.StringNull(), state: str("ebpf"), wantPlan: str("ebpf")},
		"unset keeps ptrace":    {config: types.StringNull(), state: str("ptrace"), wantPlan: str("ptrace")},
		"same mechanism":        {config: str("ebpf"), state: str("ebpf"), wantPlan: str("ebpf")},
		"other mechanism":       {config: str("ptrace"), state: str("ebpf"), wantPlan: str("ptrace"), wantReplace: true},
		"auto accepts ptrace":   {config: str("auto"), state: str("ptrace"), wantPlan: str("auto")},
		"explicit after auto":   {config: str("ebpf"), state: str("auto"), wantPlan: str("ebpf"), wantReplace: true},
		"unknown configuration": {config: types.StringUnknown(), state: str("ebpf"), wantPlan: types.StringUnknown(), wantReplace: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			// The framework plans an unset Optional+Computed attribute as unknown, and a set one
			// as its configured value, before the modifier runs.
			plan := c.config
			if c.config.IsNull() {
				plan = types.StringUnknown()
			}
			req := planmodifier.StringRequest{ConfigValue: c.config, StateValue: c.state, PlanValue: plan}
			resp := &planmodifier.StringResponse{PlanValue: plan}
			recordingMechanismModifier{}.PlanModifyString(context.Background(), req, resp)
			if !resp.PlanValue.Equal(c.wantPlan) {
				t.Errorf("plan %s, want %s", resp.PlanValue, c.wantPlan)
			}
			if resp.RequiresReplace != c.wantReplace {
				t.Errorf("requires replace %v, want %v", resp.RequiresReplace, c.wantReplace)
			}
		})
	}
}

// mechanismConfig returns a running container "app" and two recordings of the same command,
// "viaebpf" and "viaptrace", whose mechanism arguments are the given HCL expressions or unset
// when empty.
func mechanismConfig(t *testing.T, dev *localdevice.Device, viaEBPF, viaPtrace string) string {
	argument := func(value string) string {
		if value == "" {
			return ""
		}
		return "mechanism = " + value
	}
	return deviceConfig(t, dev, dev.HostPublicKey) + fmt.Sprintf(`
resource "iotfleet_container" "app" {
  device  = iotfleet_device.test.target
  name    = "app"
  rootfs  = { busybox = true }
  command = ["/bin/sh", "-c", "while true; do sleep 1; done"]
}

resource "iotfleet_seccomp_recording" "viaebpf" {
  device    = iotfleet_device.test.target
  name      = "viaebpf"
  container = iotfleet_container.app.name
  command   = ["/bin/sh", "-c", %[1]q]
  %[2]s
}

resource "iotfleet_seccomp_recording" "viaptrace" {
  device    = iotfleet_device.test.target
  name      = "viaptrace"
  container = iotfleet_container.app.name
  command   = ["/bin/sh", "-c", %[1]q]
  %[3]s
}
`, recordingWorkload, argument(viaEBPF), argument(viaPtrace))
}

// skipWithoutEBPF skips the test on a machine whose kernel has no BPF syscall or no cgroup v2
// hierarchy, where the device cannot record with eBPF.
func skipWithoutEBPF(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/sys/kernel/unprivileged_bpf_disabled"); err != nil {
		t.Skip("the kernel has no BPF syscall (CONFIG_BPF_SYSCALL), so the device cannot record with eBPF")
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil || !strings.Contains(string(mounts), " - cgroup2 ") {
		t.Skip("no cgroup v2 hierarchy is mounted, so the device cannot record with eBPF")
	}
}

func TestAccSeccompRecording_mechanism(t *testing.T) {
	testAccPreCheck(t)
	skipWithoutEBPF(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the expected syscall names (getdents64) are those of x86_64")
	}
	dev := testDevice(t)
	viaEBPF, viaPtrace := "iotfleet_seccomp_recording.viaebpf", "iotfleet_seccomp_recording.viaptrace"

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// Both mechanisms see the children of the shell: ls and the pipeline.
				Config: mechanismConfig(t, dev, `"ebpf"`, `"ptrace"`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(viaEBPF, "mechanism", "ebpf"),
					resource.TestCheckResourceAttr(viaPtrace, "mechanism", "ptrace"),
					resource.TestCheckTypeSetElemAttr(viaEBPF, "syscalls.x86_64.*", "getdents64"),
					resource.TestCheckTypeSetElemAttr(viaPtrace, "syscalls.x86_64.*", "getdents64"),
					resource.TestCheckTypeSetElemAttr(viaEBPF, "syscalls.x86_64.*", "wait4"),
					resource.TestCheckTypeSetElemAttr(viaPtrace, "syscalls.x86_64.*", "wait4"),
				),
			},
			{
				// auto accepts the recording made with ebpf, and an unset mechanism keeps ptrace.
				Config: mechanismConfig(t, dev, `"auto"`, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(viaEBPF, plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(viaPtrace, plancheck.ResourceActionNoop),
					},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(viaEBPF, "mechanism", "auto"),
					resource.TestCheckResourceAttr(viaPtrace, "mechanism", "ptrace"),
				),
			},
			{
				// Another mechanism records again.
				Config: mechanismConfig(t, dev, `"auto"`, `"ebpf"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(viaEBPF, plancheck.ResourceActionNoop),
						plancheck.ExpectResourceAction(viaPtrace, plancheck.ResourceActionReplace),
					},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(viaPtrace, "mechanism", "ebpf"),
					resource.TestCheckTypeSetElemAttr(viaPtrace, "syscalls.x86_64.*", "getdents64"),
				),
			},
		},
	})
}
