package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

const seccompProfileAddr = "iotfleet_seccomp_profile.test"

// seccompProfileConfig returns a device and a profile "web" on it with the given attributes.
func seccompProfileConfig(t *testing.T, dev *localdevice.Device, attributes string) string {
	return deviceConfig(t, dev, dev.HostPublicKey) + fmt.Sprintf(`
resource "iotfleet_seccomp_profile" "test" {
  device = iotfleet_device.test.target
  name   = "web"
  %s
}
`, attributes)
}

// checkSeccompPolicyOnDevice compares the policy file and its metadata on the device with the state.
func checkSeccompPolicyOnDevice(t *testing.T, dev *localdevice.Device) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		attributes, err := seccompStateAttributes(s, seccompProfileAddr)
		if err != nil {
			return err
		}
		policyPath := attributes["path"]
		wantPath := "/var/lib/iotfleet/profiles/web/" + attributes["sha256"] + ".policy"
		if policyPath != wantPath {
			return fmt.Errorf("path = %s; want %s", policyPath, wantPath)
		}
		sum, err := deviceExec(t, dev, "sha256sum", policyPath)
		if err != nil {
			return fmt.Errorf("hash the policy on the device: %v: %s", err, sum)
		}
		if got := strings.Fields(sum)[0]; got != attributes["sha256"] {
			return fmt.Errorf("policy on the device has SHA-256 %s; state has %s", got, attributes["sha256"])
		}
		content := mustDeviceExec(t, dev, "cat", policyPath)
		if content != strings.TrimSpace(attributes["policy"]) {
			return fmt.Errorf("policy on the device:\n%s\nwant the state's policy:\n%s", content, attributes["policy"])
		}
		return checkSeccompMetadataOnDevice(t, dev, strings.TrimSuffix(policyPath, ".policy")+".json", attributes)
	}
}

func checkSeccompMetadataOnDevice(t *testing.T, dev *localdevice.Device, file string, attributes map[string]string) error {
	var metadata protocol.ProfileMetadata
	if err := json.Unmarshal([]byte(mustDeviceExec(t, dev, "cat", file)), &metadata); err != nil {
		return fmt.Errorf("metadata %s is not JSON: %v", file, err)
	}
	switch {
	case metadata.SHA256 != attributes["sha256"]:
		return fmt.Errorf("metadata names SHA-256 %s; want %s", metadata.SHA256, attributes["sha256"])
	case metadata.Arch != "x86_64":
		return fmt.Errorf("metadata arch = %q; want x86_64", metadata.Arch)
	case metadata.AllowCompatABIs:
		return fmt.Errorf("metadata allows the compat ABIs; the profile does not")
	case metadata.DefaultAction.Action != "errno" || metadata.DefaultAction.Errno != 38:
		return fmt.Errorf("metadata default action = %+v; want errno 38", metadata.DefaultAction)
	case fmt.Sprint(len(metadata.Syscalls)) != attributes["syscalls.#"]:
		return fmt.Errorf("metadata lists %d syscalls; state has %s", len(metadata.Syscalls), attributes["syscalls.#"])
	}
	return nil
}

func seccompStateAttributes(s *terraform.State, address string) (map[string]string, error) {
	rs, ok := s.RootModule().Resources[address]
	if !ok {
		return nil, fmt.Errorf("%s is not in the state", address)
	}
	return rs.Primary.Attributes, nil
}

// checkNoSeccompProfileOnDevice fails when the device holds any profile folder.
func checkNoSeccompProfileOnDevice(t *testing.T, dev *localdevice.Device) func(*terraform.State) error {
	return func(*terraform.State) error {
		out, err := deviceExec(t, dev, "sh", "-c", "ls -A /var/lib/iotfleet/profiles 2>/dev/null || true")
		if err != nil {
			return fmt.Errorf("list profiles on the device: %v: %s", err, out)
		}
		if out != "" {
			return fmt.Errorf("/var/lib/iotfleet/profiles on the device still holds: %s", out)
		}
		return nil
	}
}

func TestAccSeccompProfile_basic(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	var firstPath string

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoSeccompProfileOnDevice(t, dev),
		Steps: []resource.TestStep{
			{
				Config: seccompProfileConfig(t, dev, `syscalls = ["getcwd", "mkdir", "read"]`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(seccompProfileAddr, "id", fmt.Sprintf("root@%s:%d/web", dev.Address(), dev.Port)),
					resource.TestCheckResourceAttr(seccompProfileAddr, "default_action", "errno 38"),
					resource.TestCheckResourceAttr(seccompProfileAddr, "include_runtime_base", "true"),
					resource.TestCheckResourceAttrWith(seccompProfileAddr, "runtime_base.#", seccompNonZero),
					resource.TestMatchResourceAttr(seccompProfileAddr, "policy", regexp.MustCompile(`^2\nallowlist errno 38\n`)),
					checkSeccompPolicyOnDevice(t, dev),
					func(s *terraform.State) error {
						attributes, err := seccompStateAttributes(s, seccompProfileAddr)
						firstPath = attributes["path"]
						return err
					},
				),
			},
			{
				Config:   seccompProfileConfig(t, dev, `syscalls = ["getcwd", "mkdir", "read"]`),
				PlanOnly: true,
			},
			{
				Config: seccompProfileConfig(t, dev, `syscalls = ["getcwd", "read", "rmdir"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(seccompProfileAddr, plancheck.ResourceActionUpdate),
						expectSeccompSetChange{address: seccompProfileAddr, attribute: "syscalls",
							added: []string{"rmdir"}, removed: []string{"mkdir"}},
						expectSeccompChangedString{address: seccompProfileAddr, attribute: "path"},
						expectSeccompChangedString{address: seccompProfileAddr, attribute: "sha256"},
					},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkSeccompPolicyOnDevice(t, dev),
					func(*terraform.State) error {
						// No container names the first version, so the update removed it.
						if out, err := deviceExec(t, dev, "test", "-e", firstPath); err == nil {
							return fmt.Errorf("old version %s is still on the device: %s", firstPath, out)
						}
						return nil
					},
				),
			},
			{
				ResourceName:      seccompProfileAddr,
				ImportState:       true,
				ImportStateId:     fmt.Sprintf("root@%s:%d/web", dev.Address(), dev.Port),
				ImportStateVerify: true,
			},
		},
	})
}

func TestAccSeccompProfile_rulesImport(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	attributes := `
  default_action    = "errno"
  allow_compat_abis = true
  syscalls          = ["mmap2", "getcwd"]
  rules = [
    { syscall = "personality", action = "allow", args = [{ index = 0, op = "eq", value = 0 }] },
    { syscall = "mkdir", action = "errno 13" },
    { syscall = "ptrace", action = "kill" },
    { syscall = "setns", action = "trap", args = [{ index = 1, op = "masked_eq", value = 1073741824, mask = 1073741824 }] },
  ]`

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoSeccompProfileOnDevice(t, dev),
		Steps: []resource.TestStep{
			{
				Config: seccompProfileConfig(t, dev, attributes),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr(seccompProfileAddr, "policy",
						regexp.MustCompile(`\nsetns trap \[1,1073741824,SCMP_CMP_MASKED_EQ,1073741824\]\n`)),
					resource.TestMatchResourceAttr(seccompProfileAddr, "policy", regexp.MustCompile(`\nmkdir errno 13\n`)),
					resource.TestMatchResourceAttr(seccompProfileAddr, "policy", regexp.MustCompile(`# Compat ABIs allowed`)),
				),
			},
			{
				Config:   seccompProfileConfig(t, dev, attributes),
				PlanOnly: true,
			},
			{
				ResourceName:      seccompProfileAddr,
				ImportState:       true,
				ImportStateId:     fmt.Sprintf("root@%s:%d/web", dev.Address(), dev.Port),
				ImportStateVerify: true,
			},
		},
	})
}

// TestAccSeccompProfile_drift alters and then removes the file on the device: each time the
// next plan shows the update, and applying it restores the file.
func TestAccSeccompProfile_drift(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	config := seccompProfileConfig(t, dev, `syscalls = ["getcwd"]`)
	var policyPath string

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoSeccompProfileOnDevice(t, dev),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(s *terraform.State) error {
					attributes, err := seccompStateAttributes(s, seccompProfileAddr)
					policyPath = attributes["path"]
					return err
				},
			},
			{
				PreConfig: func() {
					mustDeviceExec(t, dev, "sh", "-c", `echo "# edited" >>"$1"`, "sh", policyPath)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(seccompProfileAddr, plancheck.ResourceActionUpdate),
					},
				},
				Check: checkSeccompPolicyOnDevice(t, dev),
			},
			{
				PreConfig: func() { mustDeviceExec(t, dev, "rm", policyPath) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(seccompProfileAddr, plancheck.ResourceActionUpdate),
					},
				},
				Check: checkSeccompPolicyOnDevice(t, dev),
			},
			{
				PreConfig: func() { mustDeviceExec(t, dev, "rm", "-r", "/var/lib/iotfleet/profiles/web") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(seccompProfileAddr, plancheck.ResourceActionCreate),
					},
				},
				Check: checkSeccompPolicyOnDevice(t, dev),
			},
		},
	})
}

// TestAccSeccompProfile_deleteWhileUsed simulates a container whose LXC configuration names
// the policy: destroying the profile fails and names it, and succeeds once it is gone.
func TestAccSeccompProfile_deleteWhileUsed(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	deviceOnly := deviceConfig(t, dev, dev.HostPublicKey)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoSeccompProfileOnDevice(t, dev),
		Steps: []resource.TestStep{
			{
				Config: seccompProfileConfig(t, dev, `syscalls = ["getcwd"]`),
				Check: func(s *terraform.State) error {
					attributes, err := seccompStateAttributes(s, seccompProfileAddr)
					if err != nil {
						return err
					}
					mustDeviceExec(t, dev, "sh", "-c", `mkdir -p /var/lib/lxc/app && `+
						`printf 'lxc.uts.name = app\nlxc.seccomp.profile = %s\n' "$1" >/var/lib/lxc/app/config`,
						"sh", attributes["path"])
					return nil
				},
			},
			{
				Config:      deviceOnly,
				ExpectError: seccompErrorRegexp("Seccomp Profile In Use", `"web"`, "container app"),
			},
			{
				PreConfig: func() { mustDeviceExec(t, dev, "rm", "-r", "/var/lib/lxc/app") },
				Config:    deviceOnly,
				Check:     checkNoSeccompProfileOnDevice(t, dev),
			},
		},
	})
}

// TestAccSeccompProfile_invalid checks that each invalid profile fails the plan at its
// attribute, with the device's architecture known from the device's state, and that nothing
// reaches the device.
func TestAccSeccompProfile_invalid(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	deviceOnly := deviceConfig(t, dev, dev.HostPublicKey)
	invalid := func(attributes string, words ...string) resource.TestStep {
		return resource.TestStep{
			Config:      seccompProfileConfig(t, dev, attributes),
			PlanOnly:    true,
			ExpectError: seccompErrorRegexp(words...),
		}
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: deviceOnly},
			invalid(`syscalls = ["reed"]`, `syscalls = ["reed"]`, `unknown syscall "reed" on x86_64; did you mean "read"?`),
			invalid(`syscalls = ["mmap2"]`, `syscall "mmap2" exists only in the compat ABI`),
			invalid(`syscalls = ["set_tls"]`, `syscall "set_tls" does not exist on x86_64, only on arm`),
			invalid(`rules = [
    { syscall = "mkdir", action = "errno 1", args = [{ index = 1, op = "eq", value = 0 }] },
    { syscall = "mkdir", action = "errno 1", args = [{ index = 1, op = "eq", value = 0 }] },
  ]`, `the rule duplicates rules[0]`),
			invalid(`rules = [{ syscall = "mkdir", action = "errno 1" }, { syscall = "mkdir", action = "kill" }]`,
				`rules[0] is also for "mkdir"`, `merge them into one rule`),
			invalid(`syscalls = ["mkdir"]
  rules = [{ syscall = "mkdir", action = "kill" }]`, `syscall "mkdir" is also in syscalls`),
			invalid(`rules = [{ syscall = "close", action = "errno 1" }]`, `syscall "close" is in the runtime base`),
			invalid(`rules = [{ syscall = "personality", action = "allow", args = [{ index = 0, op = "eq", value = 1, mask = 1 }] }]`,
				`mask 0x1 applies only to operator masked_eq`),
			invalid(`rules = [{ syscall = "personality", action = "allow", args = [{ index = 0, op = "eq", value = 1.5 }] }]`,
				`1.5 is not a whole number`),
			invalid(`default_action = "errno 0"`, `default_action`, `invalid errno in "errno 0"`),
			{
				Config: deviceOnly,
				Check:  checkNoSeccompProfileOnDevice(t, dev),
			},
		},
	})
}

// seccompErrorRegexp matches phrases in order, each across Terraform's line wrapping.
func seccompErrorRegexp(phrases ...string) *regexp.Regexp {
	quoted := make([]string, len(phrases))
	for i, phrase := range phrases {
		quoted[i] = strings.ReplaceAll(regexp.QuoteMeta(phrase), " ", `\s+`)
	}
	return regexp.MustCompile(strings.Join(quoted, `[\s\S]*`))
}

// TestAccSeccompProfile_invalidAtApply creates the device and an invalid profile together:
// the device's architecture is unknown at plan time, so the profile fails at apply, before
// anything is written for it.
func TestAccSeccompProfile_invalidAtApply(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: seccompProfileConfig(t, dev, `syscalls = ["epoll_ctl_old", "reed"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectUnknownValue(seccompProfileAddr, tfjsonpath.New("policy")),
						plancheck.ExpectUnknownValue(seccompProfileAddr, tfjsonpath.New("path")),
					},
				},
				ExpectError: seccompErrorRegexp(`unknown syscall "reed" on x86_64; did you mean "read"?`),
			},
			{
				Config: deviceConfig(t, dev, dev.HostPublicKey),
				Check:  checkNoSeccompProfileOnDevice(t, dev),
			},
		},
	})
}

func seccompNonZero(value string) error {
	if value == "" || value == "0" {
		return fmt.Errorf("value is %q; want a non-zero count", value)
	}
	return nil
}

// expectSeccompSetChange checks that a set attribute's planned change adds and removes exactly the
// given elements, which is how the plan shows each of them on its own line.
type expectSeccompSetChange struct {
	address, attribute string
	added, removed     []string
}

func (e expectSeccompSetChange) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	before, after, err := seccompPlannedValues(req, e.address, e.attribute)
	if err != nil {
		resp.Error = err
		return
	}
	beforeSet, afterSet := seccompPlanStrings(before), seccompPlanStrings(after)
	added := seccompDifference(afterSet, beforeSet)
	removed := seccompDifference(beforeSet, afterSet)
	if !slices.Equal(added, e.added) || !slices.Equal(removed, e.removed) {
		resp.Error = fmt.Errorf("%s.%s: plan adds %v and removes %v; want to add %v and remove %v",
			e.address, e.attribute, added, removed, e.added, e.removed)
	}
}

// expectSeccompChangedString checks that a string attribute is known in the plan and differs
// from its value before.
type expectSeccompChangedString struct {
	address, attribute string
}

func (e expectSeccompChangedString) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	before, after, err := seccompPlannedValues(req, e.address, e.attribute)
	if err != nil {
		resp.Error = err
		return
	}
	a, ok := after.(string)
	if !ok || a == "" {
		resp.Error = fmt.Errorf("%s.%s is %v in the plan; want a known string", e.address, e.attribute, after)
		return
	}
	if before == a {
		resp.Error = fmt.Errorf("%s.%s stays %s in the plan; want a change", e.address, e.attribute, a)
	}
}

// seccompPlannedValues returns an attribute's value before and after the planned change.
func seccompPlannedValues(req plancheck.CheckPlanRequest, address, attribute string) (any, any, error) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != address {
			continue
		}
		if unknown, ok := rc.Change.AfterUnknown.(map[string]any); ok && unknown[attribute] == true {
			return nil, nil, fmt.Errorf("%s.%s is unknown in the plan", address, attribute)
		}
		before, _ := rc.Change.Before.(map[string]any)
		after, _ := rc.Change.After.(map[string]any)
		return before[attribute], after[attribute], nil
	}
	return nil, nil, fmt.Errorf("%s is not in the plan", address)
}

func seccompPlanStrings(value any) []string {
	items, _ := value.([]any)
	var out []string
	for _, item := range items {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func seccompDifference(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
