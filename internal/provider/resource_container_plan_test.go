package provider

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// These tests plan containers without a device: every check they make happens at plan time,
// before the provider dials anything. They need terraform on PATH, but not TF_ACC or root.

const planDeviceHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

// badContainerInputs are configurations that must fail at plan time, each with the words its
// error must contain. They are shared with the acceptance test that checks the device stays
// untouched.
var badContainerInputs = []struct {
	name, body string
	want       []string
}{
	{"name with dots", `name = "../x"`, []string{"invalid container name", "../x"}},
	{"name with space", `name = "a b"`, []string{"invalid container name", "a b"}},
	{"unknown capability", `capabilities = ["net_bind_servce"]`, []string{"unknown capability", `did you mean`, "net_bind_service"}},
	{"duplicate capability", `capabilities = ["chown", "CAP_CHOWN"]`, []string{"Duplicate Capability"}},
	{"negative memory", `memory_limit = "-64MiB"`, []string{"-64MiB", "cannot be negative"}},
	{"unparsable memory", `memory_limit = "lots"`, []string{"lots", "64MiB"}},
	{"negative cpu", `cpu_limit = "-0.5"`, []string{"-0.5", "cannot be negative"}},
	{"unparsable cpu", `cpu_limit = "fast"`, []string{"fast", "number of CPUs"}},
	{"negative pids", `pids_limit = -1`, []string{"pids_limit", "at least 0"}},
	{"zero cpu weight", `cpu_weight = 0`, []string{"cpu_weight", "between 1 and 10000"}},
	{"file escapes", `files = [{ path = "/../../etc/passwd", content = "x" }]`, []string{"/../../etc/passwd", "'..' segments"}},
	{"file with content and source", `files = [{ path = "/a", content = "x", source = "/etc/hostname" }]`, []string{"only one"}},
	{"setuid file", `files = [{ path = "/a", content = "x", mode = "4755" }]`, []string{"4755", "setuid"}},
	{"file below /proc", `files = [{ path = "/proc/x", content = "x" }]`, []string{"mounts its own /proc", "/proc/x"}},
	{"file below tmpfs", `files = [{ path = "/tmp/x", content = "x" }]`, []string{"mounts its own /tmp", "/tmp/x"}},
	{"user outside idmap", `user = 70000`, []string{"70000", "idmap_size"}},
	{"bad environment name", `environment = { "A-B" = "1" }`, []string{"A-B", "environment variable name"}},
	{"empty command", `command = [""]`, []string{"first element of command"}},
	{"relative working_dir", `working_dir = "srv"`, []string{"srv", "absolute path"}},
	{"seccomp outside device paths", `seccomp_profile = "policies/web"`, []string{"policies/web", "absolute path"}},
	{"nic address with prefix", `name = "web"
  network {
    name         = "lan0"
    ipv4_address = "10.80.0.5/24"
  }`, []string{"10.80.0.5/24", "without prefix"}},
	{"nic address loopback", `name = "web"
  network {
    name         = "lan0"
    ipv4_address = "127.0.0.2"
  }`, []string{"127.0.0.2", "reserved address"}},
	{"nic network name", `network { name = "LAN" }`, []string{"invalid network name", "LAN"}},
	{"nic network twice", `network { name = "lan0" }
  network { name = "lan0" }`, []string{"Duplicate Network", "lan0"}},
	{"resolv.conf twice", `resolv_conf = "nameserver 10.80.0.1\n"
  files = [{ path = "/etc/resolv.conf", content = "x" }]`, []string{"resolv_conf writes /etc/resolv.conf"}},
	{"empty resolv.conf", `resolv_conf = ""`, []string{"resolv_conf", "at least 1"}},
}

// badRootfsInputs replace the rootfs of the base configuration. expandTarballs replaces
// TARBALL with the quoted path of a valid tarball and NOT_TARBALL with that of a file that is
// not one.
var badRootfsInputs = []struct {
	name, rootfs string
	want         []string
}{
	{"rootfs without kind", `{}`, []string{"Neither busybox = true nor tarball"}},
	{"rootfs with both kinds", `{ busybox = true, tarball = TARBALL }`, []string{"Both busybox = true and tarball"}},
	{"tarball hash mismatch", `{ tarball = TARBALL, tarball_sha256 = "` + zeroSHA256 + `" }`, []string{"Hash Mismatch", zeroSHA256}},
	{"tarball not a tar", `{ tarball = NOT_TARBALL }`, []string{"not a tar archive"}},
	{"tarball missing", `{ tarball = "/nonexistent/rootfs.tar" }`, []string{"open rootfs tarball"}},
	{"tarball file path with space", `{ tarball = TARBALL }
  files = [{ path = "/etc/a b", content = "x" }]`, []string{"/etc/a b", "white space"}},
	{"writable tarball rootfs", `{ tarball = TARBALL }
  read_only_rootfs = false`, []string{"read_only_rootfs = false works only with", "busybox"}},
}

const zeroSHA256 = "0000000000000000000000000000000000000000000000000000000000000000"

// planProviderConfig returns a provider block with a throwaway key and no known hosts, which is
// enough for plans that never reach a device.
func planProviderConfig(t *testing.T) string {
	t.Helper()
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Skip("terraform is not on PATH")
	}
	privateKey, _ := newHostKeyPair(t)
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(keyFile, privateKey, 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`
provider "iotfleet" {
  private_key_file = %q
  known_hosts_file = "/dev/null"
  agent_socket     = ""
}
`, keyFile)
}

// planContainerConfig returns a container on an unreachable documentation address, with body
// added to its arguments.
func planContainerConfig(t *testing.T, rootfs, body string) string {
	return planProviderConfig(t) + fmt.Sprintf(`
resource "iotfleet_container" "test" {
  device = { host = "192.0.2.10", host_key = %q }
  rootfs = %s
  %s
}
`, planDeviceHostKey, rootfs, withDefaultName(body))
}

// withDefaultName adds name = "web" unless body sets a name.
func withDefaultName(body string) string {
	if regexp.MustCompile(`(?m)^\s*name\s*=`).MatchString(body) {
		return body
	}
	return "name = \"web\"\n  " + body
}

// testTarballs writes a small valid tarball and a file that is not one, and returns their paths.
func testTarballs(t *testing.T) (tarball, notTarball string) {
	t.Helper()
	dir := t.TempDir()
	tarball = filepath.Join(dir, "rootfs.tar.gz")
	if err := os.WriteFile(tarball, gzipBytes(t, tarBytes(t, tar.FormatUSTAR)), 0o600); err != nil {
		t.Fatal(err)
	}
	notTarball = filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notTarball, []byte("not a tarball\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return tarball, notTarball
}

func expandTarballs(rootfs, tarball, notTarball string) string {
	return strings.NewReplacer("NOT_TARBALL", strconv.Quote(notTarball), "TARBALL", strconv.Quote(tarball)).Replace(rootfs)
}

func TestContainerPlanDefaults(t *testing.T) {
	address := "iotfleet_container.test"
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:             planContainerConfig(t, `{ busybox = true }`, ""),
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPreRefresh: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(address, plancheck.ResourceActionCreate),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("id"), knownvalue.StringExact("root@192.0.2.10:22/web")),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("device").AtMapKey("user"), knownvalue.StringExact("root")),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("running"), knownvalue.Bool(true)),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("state"), knownvalue.StringExact(stateRunning)),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("capabilities"), knownvalue.SetExact(nil)),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("no_new_privs"), knownvalue.Bool(true)),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("read_only_rootfs"), knownvalue.Bool(true)),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("memory_limit"), knownvalue.StringExact("128MiB")),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("cpu_weight"), knownvalue.Int64Exact(100)),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("pids_limit"), knownvalue.Int64Exact(128)),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("idmap_size"), knownvalue.Int64Exact(65536)),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("image_sha256"), knownvalue.StringExact("")),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("rootfs").AtMapKey("sha256"), knownvalue.Null()),
				plancheck.ExpectUnknownValue(address, tfjsonpath.New("init_pid")),
				plancheck.ExpectUnknownValue(address, tfjsonpath.New("host_uid_start")),
				plancheck.ExpectUnknownValue(address, tfjsonpath.New("config_sha256")),
			}},
		}},
	})
}

func TestContainerPlanTarballAndFiles(t *testing.T) {
	address := "iotfleet_container.test"
	tarball, _ := testTarballs(t)
	sum, err := inspectTarball(tarball)
	if err != nil {
		t.Fatal(err)
	}
	source := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(source, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`files = [
    { path = "/etc/app.conf", content = "x=1\n" },
    { path = "/etc/token", source = %q, mode = "0400" },
  ]`, source)

	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:             planContainerConfig(t, fmt.Sprintf(`{ tarball = %q, tarball_sha256 = %q }`, tarball, sum), body),
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPreRefresh: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue(address, tfjsonpath.New("rootfs").AtMapKey("sha256"), knownvalue.StringExact(sum)),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("image_sha256"), knownvalue.StringExact(sum)),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("files").AtSliceIndex(0).AtMapKey("sha256"),
					knownvalue.StringExact(sha256Hex([]byte("x=1\n")))),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("files").AtSliceIndex(0).AtMapKey("mode"),
					knownvalue.StringExact("0644")),
				plancheck.ExpectKnownValue(address, tfjsonpath.New("files").AtSliceIndex(1).AtMapKey("sha256"),
					knownvalue.StringExact(sha256Hex([]byte("secret\n")))),
			}},
		}},
	})
}

func TestContainerPlanBadInput(t *testing.T) {
	tarball, notTarball := testTarballs(t)
	for _, tt := range badContainerInputs {
		t.Run(tt.name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      planContainerConfig(t, `{ busybox = true }`, tt.body),
					PlanOnly:    true,
					ExpectError: errorRegexp(tt.want...),
				}},
			})
		})
	}
	for _, tt := range badRootfsInputs {
		t.Run(tt.name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      planContainerConfig(t, expandTarballs(tt.rootfs, tarball, notTarball), ""),
					PlanOnly:    true,
					ExpectError: errorRegexp(tt.want...),
				}},
			})
		})
	}
}
