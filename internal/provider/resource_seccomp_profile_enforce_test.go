package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

// seccompSleepSyscalls are the calls of busybox `sleep 1` attached to a container, as
// `go run ./internal/seccomp/measure` reports them for the attached command (BusyBox 1.35.0,
// x86_64). They are the workload; the runtime base covers LXC and the container's init.
var seccompSleepSyscalls = []string{
	"arch_prctl", "brk", "clock_nanosleep", "exit_group", "getgid", "getrandom", "getuid", "mprotect",
	"newfstatat", "prctl", "prlimit64", "readlink", "rseq", "set_robust_list", "set_tid_address",
	"setgid", "setuid",
}

// seccompEnforceContainer is the raw LXC container that the enforcement test starts.
const seccompEnforceContainer = "enforce"

// seccompHardenScript makes a container from the busybox template hardened as the provider's
// containers are: $1 is the container folder and $2 the policy. LXC maps the IDs itself because
// lxc-start runs without newuidmap on its PATH, so no /etc/subuid entry is needed. The
// container gets no /sys and no cgroup mounts: a local device mounts parts of its own sysfs over /sys/class/net,
// and the kernel then refuses a new sysfs mount in a user namespace (EPERM).
const seccompHardenScript = `set -eu
sed -i -e '/^lxc\.net\.0\./d' -e '/^lxc\.apparmor\./d' -e '/^lxc\.cap\.drop/d' \
	-e '/sys\/kernel\/security/d' -e 's/^lxc\.mount\.auto = .*/lxc.mount.auto = proc:mixed/' "$1/config"
cat >>"$1/config" <<EOF
lxc.net.0.type = empty
lxc.idmap = u 0 1000000 65536
lxc.idmap = g 0 1000000 65536
lxc.cap.keep = none
lxc.no_new_privs = 1
lxc.seccomp.profile = $2
EOF
chmod 0711 "$1"
`

// TestAccSeccompProfile_enforcement starts a raw LXC container on the device with the policy
// that the resource wrote, a default-deny profile of the runtime base plus busybox sleep's
// calls, and checks what the kernel enforces.
func TestAccSeccompProfile_enforcement(t *testing.T) {
	testAccPreCheck(t)
	for _, tool := range []string{"lxc-create", "lxc-start", "lxc-attach", "lxc-stop", "lxc-destroy", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the enforcement test needs %s: install lxc and busybox-static", tool)
		}
	}
	probe := buildCompatProbe(t)
	dev := testDevice(t)
	syscalls := `"` + strings.Join(append(seccompSleepSyscalls, "seccomp"), `", "`) + `"`
	config := seccompProfileConfig(t, dev, fmt.Sprintf(`
  syscalls = [%s]
  rules = [
    { syscall = "rmdir", action = "errno 13" },
    { syscall = "ioprio_get", action = "kill" },
  ]`, syscalls))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(s *terraform.State) error {
					attributes, err := seccompStateAttributes(s, seccompProfileAddr)
					if err != nil {
						return err
					}
					checkEnforcement(t, dev, attributes["path"], probe)
					return nil
				},
			},
		},
	})
}

func checkEnforcement(t *testing.T, dev *localdevice.Device, policy, probe string) {
	name := seccompEnforceContainer
	// The profile's destroy fails while the container's configuration names the policy.
	defer destroyEnforcedContainer(t, dev)
	if !startEnforcedContainer(t, dev, policy, probe) {
		return
	}

	pid := mustDeviceExec(t, dev, "lxc-info", "-n", name, "-p", "-H")
	status := mustDeviceExec(t, dev, "grep", "^Seccomp:", "/proc/"+pid+"/status")
	if strings.Fields(status)[1] != "2" {
		t.Errorf("container init: %q; want Seccomp: 2 (filter mode)", status)
	}

	// The base plus sleep's calls are enough to attach a command.
	if out, err := seccompAttach(t, dev, "sleep", "1"); err != nil {
		t.Errorf("attach sleep 1: %v: %s", err, out)
	}
	// mkdir is not allowed, so it fails with the default action, ENOSYS.
	if out, err := seccompAttach(t, dev, "mkdir", "/tmp/denied"); err == nil || !strings.Contains(err.Error(), "Function not implemented") {
		t.Errorf("attach mkdir = %v: %s; want ENOSYS (Function not implemented)", err, out)
	}
	// The rule gives rmdir EACCES.
	if out, err := seccompAttach(t, dev, "rmdir", "/tmp"); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("attach rmdir = %v: %s; want EACCES (Permission denied)", err, out)
	}
	// The kill rule kills the caller with SIGSYS: exit status 128 + 31.
	var exitErr *exec.ExitError
	if out, err := seccompAttach(t, dev, "/bin/busybox", "ionice"); !errors.As(err, &exitErr) || exitErr.ExitCode() != 159 {
		t.Errorf("attach busybox ionice = %v: %s; want exit status 159, killed by SIGSYS", err, out)
	}
	if state := mustDeviceExec(t, dev, "lxc-info", "-n", name, "-s", "-H"); state != "RUNNING" {
		t.Errorf("container is %s after the denied calls; want RUNNING", state)
	}

	// LXC adds allowed names to the x86 compat ABI too, so without the compat deny filter a
	// 32-bit getpid gets through. The filter, loaded with TSYNC, closes that gap.
	if out, err := seccompAttach(t, dev, "/probe"); err != nil || out != "compat getpid: ok" {
		t.Errorf("compat getpid without the deny filter = %q, %v; want it allowed, which is the gap", out, err)
	}
	if out, err := seccompAttach(t, dev, "/probe", "-deny"); !strings.Contains(out, "compat getpid: errno 38") {
		t.Errorf("compat getpid with the deny filter = %q, %v; want errno 38", out, err)
	}

	if out, err := deviceExec(t, dev, "lxc-stop", "-n", name, "-t", "30"); err != nil {
		t.Errorf("stop the container: %v: %s", err, out)
	}
}

// startEnforcedContainer creates and starts the container with policy and the compat probe
// at /probe. It reports whether the container runs.
func startEnforcedContainer(t *testing.T, dev *localdevice.Device, policy, probe string) bool {
	t.Helper()
	name := seccompEnforceContainer
	dir := "/var/lib/lxc/" + name
	mustDeviceExec(t, dev, "lxc-create", "-t", "busybox", "-n", name)
	mustDeviceExec(t, dev, "sh", "-c", seccompHardenScript, "sh", dir, policy)
	mustDeviceExec(t, dev, "install", "-m", "0755", probe, dir+"/rootfs/probe")

	// A policy that breaks LXC's handshake blocks lxc-start, so it gets a deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := dir + "/start.log"
	_, err := dev.Exec(ctx, "env", "PATH=/usr/sbin:/sbin", "/usr/bin/lxc-start", "-n", name, "-l", "INFO", "-o", log)
	if err != nil {
		errors, _ := deviceExec(t, dev, "grep", "-E", " (ERROR|WARN) ", log)
		t.Errorf("start container %s with policy %s: %v\nLXC log:\n%s", name, policy, err, errors)
		return false
	}
	if out, err := deviceExec(t, dev, "lxc-wait", "-n", name, "-s", "RUNNING", "-t", "20"); err != nil {
		t.Errorf("container %s did not reach RUNNING: %v: %s", name, err, out)
		return false
	}
	return true
}

func destroyEnforcedContainer(t *testing.T, dev *localdevice.Device) {
	name := seccompEnforceContainer
	_, _ = deviceExec(t, dev, "lxc-stop", "-n", name, "-k")
	if out, err := deviceExec(t, dev, "lxc-destroy", "-n", name); err != nil {
		t.Errorf("destroy container %s: %v: %s", name, err, out)
	}
}

func seccompAttach(t *testing.T, dev *localdevice.Device, argv ...string) (string, error) {
	t.Helper()
	return deviceExec(t, dev, append([]string{"lxc-attach", "-n", seccompEnforceContainer, "--"}, argv...)...)
}

// buildCompatProbe builds internal/seccomp/testdata/compatprobe and checks that this kernel
// runs i386 syscalls from x86_64 processes, which the probe needs.
func buildCompatProbe(t *testing.T) string {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("the compat probe makes i386 syscalls through int 0x80, which needs an x86_64 machine")
	}
	probe := filepath.Join(t.TempDir(), "compatprobe")
	cmd := exec.Command("go", "build", "-o", probe, "../seccomp/testdata/compatprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build compat probe: %v: %s", err, out)
	}
	if out, err := exec.Command(probe).Output(); err != nil || strings.TrimSpace(string(out)) != "compat getpid: ok" {
		t.Skipf("this kernel does not run i386 syscalls (CONFIG_IA32_EMULATION): %q, %v", out, err)
	}
	return probe
}
