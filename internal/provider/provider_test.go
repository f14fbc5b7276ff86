package provider

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

// testAccProtoV6ProviderFactories serve the provider in-process to terraform-plugin-testing.
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"iotfleet": providerserver.NewProtocol6WithError(New("test")()),
}

func TestMain(m *testing.M) {
	// Use the terraform on PATH so that acceptance tests never download one.
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		if path, err := exec.LookPath("terraform"); err == nil {
			os.Setenv("TF_ACC_TERRAFORM_PATH", path)
		}
	}
	os.Setenv("CHECKPOINT_DISABLE", "1")
	// Terraform warns on every command when its CLI configuration file is missing.
	if file := os.Getenv("TF_CLI_CONFIG_FILE"); file != "" {
		if _, err := os.Stat(file); err != nil {
			os.Unsetenv("TF_CLI_CONFIG_FILE")
		}
	}
	os.Exit(m.Run())
}

// testAccPreCheck skips an acceptance test, with the reason, when this machine cannot run
// local devices.
func testAccPreCheck(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance tests run only with TF_ACC=1")
	}
	if os.Geteuid() != 0 {
		t.Skip("local devices need root: network namespaces, sshd and LXC")
	}
	for _, tool := range []string{"/usr/sbin/sshd", "ip", "nsenter", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("local devices need %s: run scripts/install-deps.sh", tool)
		}
	}
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Fatal("terraform is not on PATH; install Terraform 1.11 or newer")
	}
}

// testDevice starts a throwaway local device for one test and stops it when the test ends.
func testDevice(t *testing.T) *localdevice.Device {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	name := fmt.Sprintf("t%d", time.Now().UnixNano()%1_000_000)
	dev, err := localdevice.Start(ctx, localdevice.Options{Name: name})
	if err != nil {
		t.Fatalf("start local device: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dev.Stop(ctx); err != nil {
			t.Errorf("stop local device %s: %v", name, err)
		}
	})
	return dev
}

// providerConfig returns a provider block that logs in with the device's client key and checks
// unpinned host keys against a known_hosts file that lists the device.
func providerConfig(t *testing.T, dev *localdevice.Device) string {
	t.Helper()
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(dev.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`
provider "iotfleet" {
  private_key_file = %q
  known_hosts_file = %q
  agent_socket     = ""
  connect_timeout  = "20s"
}
`, dev.ClientKeyPath, knownHosts)
}

// deviceExec runs a command on the device, outside the provider, and returns its trimmed output.
func deviceExec(t *testing.T, dev *localdevice.Device, argv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := dev.Exec(ctx, argv...)
	return strings.TrimSpace(string(out)), err
}

// mustDeviceExec is deviceExec for commands that must succeed.
func mustDeviceExec(t *testing.T, dev *localdevice.Device, argv ...string) string {
	t.Helper()
	out, err := deviceExec(t, dev, argv...)
	if err != nil {
		t.Fatalf("on device: %s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return out
}

// errorRegexp matches text across Terraform's line wrapping of diagnostics.
func errorRegexp(words ...string) *regexp.Regexp {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = regexp.QuoteMeta(w)
	}
	return regexp.MustCompile(strings.Join(quoted, `[\s\S]*`))
}
