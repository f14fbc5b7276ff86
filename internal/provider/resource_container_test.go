package provider

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

// sleeper runs a shell loop as init, so the container has a workload to exec next to.
const sleeper = `command = ["/bin/sh", "-c", "while true; do sleep 1; done"]`

func TestAccContainer_basic(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	name := uniqueName(dev, "web")
	body := fmt.Sprintf(`name = %q
  rootfs = { busybox = true }
  `, name) + sleeper
	id := fmt.Sprintf("root@%s:%d/%s", dev.Address(), dev.Port, name)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkContainerGone(t, dev, name),
		Steps: []resource.TestStep{
			{
				Config: containerConfig(t, dev, body),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(containerAddr, "id", id),
					resource.TestCheckResourceAttr(containerAddr, "state", "RUNNING"),
					resource.TestCheckResourceAttr(containerAddr, "running", "true"),
					resource.TestCheckResourceAttr(containerAddr, "image_sha256", ""),
					resource.TestCheckResourceAttr(containerAddr, "memory_limit", "128MiB"),
					resource.TestCheckResourceAttr(containerAddr, "capabilities.#", "0"),
					resource.TestCheckResourceAttrSet(containerAddr, "rootfs_bytes"),
					checkContainerRunning(t, dev, name),
					checkIdmap(t, dev),
					checkCapabilities(t, dev),
					checkDevices(t, dev, name),
					checkReadOnlyRootfs(t, dev, name),
					checkConfigHash(t, dev, name),
				),
			},
			{
				Config:   containerConfig(t, dev, body),
				PlanOnly: true,
			},
			{
				Config:            containerConfig(t, dev, body),
				ResourceName:      containerAddr,
				ImportState:       true,
				ImportStateId:     id,
				ImportStateVerify: true,
				// The import ID carries no host key, so known_hosts verifies the imported
				// device, and arch comes from the device resource only. rootfs_bytes grows
				// with the container's log between refreshes.
				ImportStateVerifyIgnore: []string{"device.host_key", "device.arch", "rootfs_bytes"},
			},
		},
	})
}

func TestAccContainer_hardening(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	name := uniqueName(dev, "tight")
	body := fmt.Sprintf(`name = %q
  rootfs = { busybox = true }
  capabilities = ["net_bind_service", "CAP_CHOWN"]
  memory_limit = "32MiB"
  pids_limit = 16
  read_only_rootfs = false
  `, name) + sleeper

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkContainerGone(t, dev, name),
		Steps: []resource.TestStep{{
			Config: containerConfig(t, dev, body),
			// The fork test runs last: its sleeping processes hold the pids limit for a while.
			Check: resource.ComposeAggregateTestCheckFunc(
				checkCapabilities(t, dev, "chown", "net_bind_service"),
				checkMemoryLimit(t, dev, 32<<20),
				func(*terraform.State) error {
					if out, err := containerExec(t, dev, name, "touch", "/probe"); err != nil {
						return fmt.Errorf("touch /probe on a writable rootfs: %v: %s", err, out)
					}
					return nil
				},
				checkMemoryLimitKills(t, dev, name),
				checkPidsLimit(t, dev, name, 16),
			),
		}},
	})
}

// checkMemoryLimitKills allocates past the container's 32 MiB and expects the kernel to kill the
// allocating process while the container keeps running. A small allocation first shows that
// the command itself works.
func checkMemoryLimitKills(t *testing.T, dev *localdevice.Device, name string) resource.TestCheckFunc {
	allocate := func(bytes int) (string, error) {
		return containerExec(t, dev, name, "sh", "-c",
			fmt.Sprintf(`x=$(head -c %d /dev/zero | tr '\0' a); echo "survived ${#x}"`, bytes))
	}
	return func(s *terraform.State) error {
		if out, err := allocate(1 << 20); err != nil || out != "survived 1048576" {
			return fmt.Errorf("allocating 1 MiB in the container = %q, %v; want it to succeed", out, err)
		}
		out, err := allocate(100_000_000)
		if err == nil || strings.Contains(out, "survived") {
			return fmt.Errorf("allocating 100 MB in a container limited to 32 MiB was not stopped: %q, %v", out, err)
		}
		if !strings.Contains(err.Error(), "status 137") {
			return fmt.Errorf("allocating 100 MB failed, but not by SIGKILL (exit status 137): %v", err)
		}
		return checkContainerRunning(t, dev, name)(s)
	}
}

// checkPidsLimit starts more sleeping processes than the limit allows and expects fork to fail.
func checkPidsLimit(t *testing.T, dev *localdevice.Device, name string, limit int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do sleep 2 & i=$((i+1)); done; wait`, limit*2)
		out, err := containerExec(t, dev, name, "sh", "-c", script)
		if err == nil && !strings.Contains(out, "fork") {
			return fmt.Errorf("starting %d processes under pids_limit %d did not fail: %q", limit*2, limit, out)
		}
		if err != nil && !strings.Contains(err.Error(), "fork") {
			return fmt.Errorf("starting %d processes failed, but not at fork: %v", limit*2, err)
		}
		return checkContainerRunning(t, dev, name)(s)
	}
}

func TestAccContainer_updateInPlace(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	name := uniqueName(dev, "web")
	config := func(capabilities, content string, memory ...string) string {
		body := fmt.Sprintf(`name = %q
  rootfs = { busybox = true }
  capabilities = %s
  files = [{ path = "/etc/app.conf", content = %q }]
  `, name, capabilities, content)
		if len(memory) > 0 {
			body += fmt.Sprintf("memory_limit = %q\n  ", memory[0])
		}
		return containerConfig(t, dev, body+sleeper)
	}
	var firstPID, secondPID string

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkContainerGone(t, dev, name),
		Steps: []resource.TestStep{
			{
				Config: config(`[]`, "v=1\n"),
				Check: resource.ComposeAggregateTestCheckFunc(
					captureAttribute("init_pid", &firstPID),
					checkFileInContainer(t, dev, name, "/etc/app.conf", "v=1"),
				),
			},
			{
				// A capability change restarts the running container.
				Config: config(`["net_bind_service"]`, "v=1\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(containerAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(containerAddr, tfjsonpath.New("init_pid")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					captureAttribute("init_pid", &secondPID),
					func(*terraform.State) error {
						if secondPID == firstPID {
							return fmt.Errorf("init_pid stayed %s across a restart", firstPID)
						}
						return nil
					},
					checkCapabilities(t, dev, "net_bind_service"),
				),
			},
			{
				// A file change is written in place.
				Config: config(`["net_bind_service"]`, "v=2\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(containerAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(containerAddr, tfjsonpath.New("init_pid"), knownvalue.NotNull()),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrPtr(containerAddr, "init_pid", &secondPID),
					checkFileInContainer(t, dev, name, "/etc/app.conf", "v=2"),
				),
			},
			{
				// A new memory limit reaches the container's cgroup.
				Config: config(`["net_bind_service"]`, "v=2\n", "96MiB"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(containerAddr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkMemoryLimit(t, dev, 96<<20),
					checkConfigHash(t, dev, name),
					checkContainerRunning(t, dev, name),
				),
			},
		},
	})
}

// checkFileInContainer reads a file inside the container.
func checkFileInContainer(t *testing.T, dev *localdevice.Device, name, path, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		out, err := containerExec(t, dev, name, "cat", path)
		if err != nil || out != want {
			return fmt.Errorf("cat %s in the container = %q, %v; want %q", path, out, err, want)
		}
		return nil
	}
}

func TestAccContainer_replaceRootfs(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	dir := t.TempDir()
	tarball := busyboxTarball(t, dev, dir, "first")
	sum, err := inspectTarball(tarball)
	if err != nil {
		t.Fatal(err)
	}
	name := uniqueName(dev, "app")
	config := func(rootfs string) string {
		return containerConfig(t, dev, fmt.Sprintf("name = %q\n  rootfs = %s\n  ", name, rootfs)+sleeper)
	}
	tarballRootfs := fmt.Sprintf(`{ tarball = %q }`, tarball)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkContainerGone(t, dev, name),
		Steps: []resource.TestStep{
			{
				Config: config(`{ busybox = true }`),
				Check:  resource.TestCheckResourceAttr(containerAddr, "image_sha256", ""),
			},
			{
				Config: config(fmt.Sprintf(`{ tarball = %q, tarball_sha256 = %q }`, tarball, sum)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(containerAddr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(containerAddr, "image_sha256", sum),
					resource.TestCheckResourceAttr(containerAddr, "rootfs.sha256", sum),
					checkFileInContainer(t, dev, name, "/etc/marker", "first"),
					checkContainerRunning(t, dev, name),
				),
			},
			{
				// The same path with other content replaces the container again.
				PreConfig: func() { busyboxTarball(t, dev, dir, "second") },
				Config:    config(tarballRootfs),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(containerAddr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkFileInContainer(t, dev, name, "/etc/marker", "second"),
					func(s *terraform.State) error {
						got, err := stateAttribute(s, containerAddr, "image_sha256")
						if err == nil && got == sum {
							return fmt.Errorf("image_sha256 is still %s after the tarball changed", sum)
						}
						return err
					},
				),
			},
			{
				Config:   config(tarballRootfs),
				PlanOnly: true,
			},
		},
	})
	if out, err := deviceExec(t, dev, "sh", "-c", "ls -A /var/lib/iotfleet/uploads 2>/dev/null || true"); err != nil || out != "" {
		t.Errorf("uploads remain on the device: %q, %v", out, err)
	}
}

func TestAccContainer_driftStopped(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	name := uniqueName(dev, "web")
	config := containerConfig(t, dev, fmt.Sprintf("name = %q\n  rootfs = { busybox = true }\n  ", name)+sleeper)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkContainerGone(t, dev, name),
		Steps: []resource.TestStep{
			{Config: config, Check: checkContainerRunning(t, dev, name)},
			{
				PreConfig: func() { mustDeviceExec(t, dev, "lxc-stop", "-n", name, "-k") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(containerAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(containerAddr, tfjsonpath.New("running"), knownvalue.Bool(true)),
					plancheck.ExpectUnknownValue(containerAddr, tfjsonpath.New("init_pid")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(containerAddr, "state", "RUNNING"),
					checkContainerRunning(t, dev, name),
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

func TestAccContainer_driftDeleted(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	name := uniqueName(dev, "web")
	config := containerConfig(t, dev, fmt.Sprintf("name = %q\n  rootfs = { busybox = true }\n  ", name)+sleeper)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkContainerGone(t, dev, name),
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig:          func() { mustDeviceExec(t, dev, "lxc-destroy", "-f", "-n", name) },
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(containerAddr, plancheck.ResourceActionCreate),
				}},
				Check: checkContainerRunning(t, dev, name),
			},
		},
	})
}

func TestAccContainer_configDrift(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	name := uniqueName(dev, "web")
	config := containerConfig(t, dev, fmt.Sprintf("name = %q\n  rootfs = { busybox = true }\n  ", name)+sleeper)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkContainerGone(t, dev, name),
		Steps: []resource.TestStep{
			{Config: config, Check: checkConfigHash(t, dev, name)},
			{
				// Someone loosens the configuration on the device.
				PreConfig: func() {
					mustDeviceExec(t, dev, "sh", "-c", "echo 'lxc.cap.keep = sys_admin' >> /var/lib/lxc/"+name+"/config")
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(containerAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(containerAddr, tfjsonpath.New("config_sha256")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkConfigHash(t, dev, name),
					func(*terraform.State) error {
						if out, _ := deviceExec(t, dev, "grep", "-c", "sys_admin", "/var/lib/lxc/"+name+"/config"); out != "0" {
							return fmt.Errorf("the rewritten configuration still keeps sys_admin")
						}
						return nil
					},
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

func TestAccContainer_destroyReturnsIdmap(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	first, second := uniqueName(dev, "first"), uniqueName(dev, "second")
	var firstStart string

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNothingInstalled(t, dev),
		Steps: []resource.TestStep{
			{
				Config: containerConfig(t, dev, fmt.Sprintf("name = %q\n  rootfs = { busybox = true }", first)),
				Check:  captureAttribute("host_uid_start", &firstStart),
			},
			{
				Config: deviceConfig(t, dev, dev.HostPublicKey),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkContainerGone(t, dev, first),
					func(*terraform.State) error { return checkNoContainers(t, dev) },
					func(*terraform.State) error {
						if subuid := mustDeviceExec(t, dev, "cat", "/etc/subuid"); strings.Contains(subuid, "root:"+firstStart+":") {
							return fmt.Errorf("/etc/subuid still grants the destroyed container's range %s:\n%s", firstStart, subuid)
						}
						return nil
					},
				),
			},
			{
				Config: containerConfig(t, dev, fmt.Sprintf("name = %q\n  rootfs = { busybox = true }", second)),
				Check:  checkRangeReused(t, dev, &firstStart),
			},
		},
	})
}

// checkRangeReused expects a new container to get the range of a destroyed one back, because
// the helper hands out the lowest free range. Local devices on one machine share /etc/subuid,
// so another device's containers may free a lower range or take this one meanwhile. A
// different start is accepted only when it is lower, or when /etc/subuid grants the old one.
func checkRangeReused(t *testing.T, dev *localdevice.Device, firstStart *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		got, err := stateAttribute(s, containerAddr, "host_uid_start")
		if err != nil || got == *firstStart {
			return err
		}
		gotStart, _ := strconv.ParseInt(got, 10, 64)
		oldStart, _ := strconv.ParseInt(*firstStart, 10, 64)
		subuid := mustDeviceExec(t, dev, "cat", "/etc/subuid")
		if gotStart < oldStart || strings.Contains(subuid, "root:"+*firstStart+":") {
			t.Logf("host_uid_start %s instead of %s: other local devices changed /etc/subuid meanwhile", got, *firstStart)
			return nil
		}
		return fmt.Errorf("host_uid_start = %s, want the destroyed container's %s back; /etc/subuid:\n%s", got, *firstStart, subuid)
	}
}

func TestAccContainer_badInput(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	tarball, notTarball := testTarballs(t)
	steps := []resource.TestStep{{Config: deviceConfig(t, dev, dev.HostPublicKey)}}
	noContainers := func() {
		if err := checkNoContainers(t, dev); err != nil {
			t.Error(err)
		}
	}
	for _, tt := range badContainerInputs {
		steps = append(steps, resource.TestStep{
			PreConfig:   noContainers,
			Config:      containerConfig(t, dev, "rootfs = { busybox = true }\n  "+withDefaultName(tt.body)),
			ExpectError: errorRegexp(tt.want...),
		})
	}
	for _, tt := range badRootfsInputs {
		steps = append(steps, resource.TestStep{
			PreConfig:   noContainers,
			Config:      containerConfig(t, dev, `name = "bad"`+"\n  rootfs = "+expandTarballs(tt.rootfs, tarball, notTarball)),
			ExpectError: errorRegexp(tt.want...),
		})
	}
	steps = append(steps, resource.TestStep{PreConfig: noContainers, Config: deviceConfig(t, dev, dev.HostPublicKey)})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNothingInstalled(t, dev),
		Steps:                    steps,
	})
}
