package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"golang.org/x/crypto/ssh"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/helperbin"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

const deviceAddr = "iotfleet_device.test"

func deviceConfig(t *testing.T, dev *localdevice.Device, hostKey string) string {
	pin := ""
	if hostKey != "" {
		pin = fmt.Sprintf("host_key = %q", hostKey)
	}
	return providerConfig(t, dev) + fmt.Sprintf(`
resource "iotfleet_device" "test" {
  host = %q
  port = %d
  %s
}
`, dev.Address(), dev.Port, pin)
}

// helperPath is where the helper lands with the default state_dir.
const helperPath = "/var/lib/iotfleet/bin/iotfleet-helper"

// checkHelperOnDevice compares the helper file on the device with the bundled helper.
func checkHelperOnDevice(t *testing.T, dev *localdevice.Device) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		machine := mustDeviceExec(t, dev, "uname", "-m")
		bundled, err := helperbin.ForMachine(machine)
		if err != nil {
			return err
		}
		sum, err := deviceExec(t, dev, "sha256sum", helperPath)
		if err != nil {
			return fmt.Errorf("hash the helper on the device: %v: %s", err, sum)
		}
		if got := strings.Fields(sum)[0]; got != bundled.SHA256 {
			return fmt.Errorf("helper on the device has SHA-256 %s, want the bundled %s", got, bundled.SHA256)
		}
		mode := mustDeviceExec(t, dev, "stat", "-c", "%a", helperPath)
		if mode != "755" {
			return fmt.Errorf("helper mode = %s, want 755", mode)
		}
		// The helper prints "iotfleet-helper VERSION protocol N".
		version := strings.Fields(mustDeviceExec(t, dev, helperPath, "version"))
		if len(version) < 2 {
			return fmt.Errorf("helper version output %q has no version", version)
		}
		return resource.ComposeAggregateTestCheckFunc(
			resource.TestCheckResourceAttr(deviceAddr, "helper_sha256", bundled.SHA256),
			resource.TestCheckResourceAttr(deviceAddr, "helper_version", version[1]),
		)(s)
	}
}

// checkFactsMatchDevice compares the reported facts with the device's own commands' output.
func checkFactsMatchDevice(t *testing.T, dev *localdevice.Device) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		layout := "v1"
		switch {
		case mustDeviceExec(t, dev, "stat", "-f", "-c", "%T", "/sys/fs/cgroup") == "cgroup2fs":
			layout = "v2"
		case mustDeviceExec(t, dev, "sh", "-c", "stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null || true") == "cgroup2fs":
			layout = "hybrid"
		}
		actions := strings.Fields(mustDeviceExec(t, dev, "cat", "/proc/sys/kernel/seccomp/actions_avail"))
		checks := []resource.TestCheckFunc{
			resource.TestCheckResourceAttr(deviceAddr, "arch", mustDeviceExec(t, dev, "uname", "-m")),
			resource.TestCheckResourceAttr(deviceAddr, "kernel_release", mustDeviceExec(t, dev, "uname", "-r")),
			resource.TestCheckResourceAttr(deviceAddr, "cgroup_layout", layout),
			resource.TestCheckResourceAttr(deviceAddr, "seccomp_actions.#", fmt.Sprint(len(actions))),
		}
		for i, action := range actions {
			checks = append(checks, resource.TestCheckResourceAttr(deviceAddr, fmt.Sprintf("seccomp_actions.%d", i), action))
		}
		lxcVersion := mustDeviceExec(t, dev, "lxc-start", "--version")
		checks = append(checks, resource.TestCheckResourceAttr(deviceAddr, "lxc_version", lxcVersion))
		return resource.ComposeAggregateTestCheckFunc(checks...)(s)
	}
}

// checkNothingInstalled fails when the device's state folder holds anything. On a local device
// the folder is a mount point, which the helper empties but cannot remove.
func checkNothingInstalled(t *testing.T, dev *localdevice.Device) func(*terraform.State) error {
	return func(*terraform.State) error {
		out, err := deviceExec(t, dev, "find", "/var/lib/iotfleet", "-mindepth", "1")
		if err != nil {
			return fmt.Errorf("list /var/lib/iotfleet on the device: %v: %s", err, out)
		}
		if out != "" {
			return fmt.Errorf("/var/lib/iotfleet on the device still holds:\n%s", out)
		}
		return nil
	}
}

func TestAccDevice_basic(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	id := fmt.Sprintf("root@%s:%d", dev.Address(), dev.Port)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNothingInstalled(t, dev),
		Steps: []resource.TestStep{
			{
				Config: deviceConfig(t, dev, dev.HostPublicKey),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(deviceAddr, "id", id),
					resource.TestCheckResourceAttr(deviceAddr, "user", "root"),
					resource.TestCheckResourceAttr(deviceAddr, "state_dir", "/var/lib/iotfleet"),
					resource.TestCheckResourceAttr(deviceAddr, "lxc_path", "/var/lib/lxc"),
					resource.TestCheckResourceAttrSet(deviceAddr, "apparmor"),
					resource.TestCheckResourceAttr(deviceAddr, "target.host", dev.Address()),
					resource.TestCheckResourceAttr(deviceAddr, "target.port", fmt.Sprint(dev.Port)),
					resource.TestCheckResourceAttrPair(deviceAddr, "target.arch", deviceAddr, "arch"),
					resource.TestCheckResourceAttr(deviceAddr, "target.host_key", dev.HostPublicKey),
					checkHelperOnDevice(t, dev),
					checkFactsMatchDevice(t, dev),
				),
			},
			{
				Config:   deviceConfig(t, dev, dev.HostPublicKey),
				PlanOnly: true,
			},
			{
				ResourceName:            deviceAddr,
				ImportState:             true,
				ImportStateId:           id,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"host_key"},
			},
			{
				// A device that known_hosts does not list is imported with its key in the ID.
				Config:            strings.Replace(deviceConfig(t, dev, dev.HostPublicKey), "known_hosts_file = ", "known_hosts_file = \"/dev/null\"\n  # ", 1),
				ResourceName:      deviceAddr,
				ImportState:       true,
				ImportStateId:     id + " " + dev.HostPublicKey,
				ImportStateVerify: true,
			},
		},
	})
}

func TestAccDevice_knownHosts(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNothingInstalled(t, dev),
		Steps: []resource.TestStep{
			{
				Config: deviceConfig(t, dev, ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckNoResourceAttr(deviceAddr, "host_key"),
					resource.TestCheckResourceAttr(deviceAddr, "target.host_key", dev.HostPublicKey),
					checkHelperOnDevice(t, dev),
				),
			},
			{
				Config:   deviceConfig(t, dev, ""),
				PlanOnly: true,
			},
		},
	})
}

func TestAccDevice_hostKeyMismatch(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	offered := fingerprint(t, dev.HostPublicKey)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      deviceConfig(t, dev, randomHostKey(t)),
				ExpectError: errorRegexp("Host Key Verification Failed", offered),
			},
		},
	})
	if err := checkNothingInstalled(t, dev)(nil); err != nil {
		t.Error(err)
	}
}

func TestAccDevice_unknownHostKey(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	config := providerConfig(t, dev)
	// A known_hosts file without the device.
	config = strings.Replace(config, "known_hosts_file = ", "known_hosts_file = \"/dev/null\"\n  # ", 1)
	config += fmt.Sprintf(`
resource "iotfleet_device" "test" {
  host = %q
}
`, dev.Address())

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      config,
				ExpectError: errorRegexp("Host Key Verification Failed", fingerprint(t, dev.HostPublicKey), "host_key"),
			},
		},
	})
	if err := checkNothingInstalled(t, dev)(nil); err != nil {
		t.Error(err)
	}
}

func TestAccDevice_helperReplaced(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	config := deviceConfig(t, dev, dev.HostPublicKey)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNothingInstalled(t, dev),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check:  checkHelperOnDevice(t, dev),
			},
			{
				// Someone replaces the helper on the device with another program.
				PreConfig: func() {
					mustDeviceExec(t, dev, "cp", "/bin/true", helperPath)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(deviceAddr, plancheck.ResourceActionUpdate),
					},
				},
				Check: checkHelperOnDevice(t, dev),
			},
			{
				// Someone deletes it.
				PreConfig: func() {
					mustDeviceExec(t, dev, "rm", helperPath)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(deviceAddr, plancheck.ResourceActionUpdate),
					},
				},
				Check: checkHelperOnDevice(t, dev),
			},
		},
	})
}

func TestAccDevice_destroyWhileInUse(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	config := deviceConfig(t, dev, dev.HostPublicKey)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNothingInstalled(t, dev),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check:  checkHelperOnDevice(t, dev),
			},
			{
				// A container managed by the provider remains on the device.
				PreConfig: func() {
					mustDeviceExec(t, dev, "mkdir", "-p", "/var/lib/iotfleet/containers/web")
				},
				Config:      config,
				Destroy:     true,
				ExpectError: errorRegexp("Device Still In Use", "web"),
			},
			{
				PreConfig: func() {
					if _, err := deviceExec(t, dev, "test", "-x", helperPath); err != nil {
						t.Errorf("the refused destroy removed the helper: %v", err)
					}
					mustDeviceExec(t, dev, "rmdir", "/var/lib/iotfleet/containers/web")
				},
				Config: config,
				Check:  checkHelperOnDevice(t, dev),
			},
		},
	})
}

func TestAccDevice_hostKeyRotation(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	oldKey := dev.HostPublicKey
	newPrivateKey, newKey := newHostKeyPair(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNothingInstalled(t, dev),
		Steps: []resource.TestStep{
			{
				Config: deviceConfig(t, dev, oldKey),
				Check:  resource.TestCheckResourceAttr(deviceAddr, "target.host_key", oldKey),
			},
			{
				// The device gets a new host key, so the old pin must now be rejected.
				PreConfig: func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := dev.ReplaceHostKey(ctx, newPrivateKey); err != nil {
						t.Fatalf("replace host key: %v", err)
					}
				},
				Config:      deviceConfig(t, dev, oldKey),
				ExpectError: errorRegexp("Host Key Verification Failed", fingerprint(t, newKey)),
			},
			{
				Config: deviceConfig(t, dev, newKey),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(deviceAddr, plancheck.ResourceActionUpdate),
					},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(deviceAddr, "host_key", newKey),
					resource.TestCheckResourceAttr(deviceAddr, "target.host_key", newKey),
				),
			},
		},
	})
}

// newHostKeyPair returns an ed25519 private key in OpenSSH PEM form and its public key in
// authorized_keys form.
func newHostKeyPair(t *testing.T) ([]byte, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// randomHostKey returns a fresh ed25519 public key in authorized_keys form.
func randomHostKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

func fingerprint(t *testing.T, authorizedKey string) string {
	t.Helper()
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		t.Fatalf("parse host key %q: %v", authorizedKey, err)
	}
	return ssh.FingerprintSHA256(key)
}
