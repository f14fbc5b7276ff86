package provider

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

const containerAddr = "iotfleet_container.test"

// containerConfig returns a device with its host key pinned and the containers in bodies,
// each the arguments of one iotfleet_container block named test, test2, ...
func containerConfig(t *testing.T, dev *localdevice.Device, bodies ...string) string {
	t.Helper()
	config := deviceConfig(t, dev, dev.HostPublicKey)
	for i, body := range bodies {
		name := "test"
		if i > 0 {
			name = fmt.Sprintf("test%d", i+1)
		}
		config += fmt.Sprintf(`
resource "iotfleet_container" %q {
  device = iotfleet_device.test.target
  %s
}
`, name, body)
	}
	return config
}

// containerExec runs argv inside a running container through lxc-attach on the device, as
// root inside, and returns its trimmed standard output.
func containerExec(t *testing.T, dev *localdevice.Device, name string, argv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"lxc-attach", "-n", name, "--clear-env",
		"--set-var", "PATH=/bin:/sbin:/usr/bin:/usr/sbin", "--"}, argv...)
	out, err := dev.Exec(ctx, args...)
	return strings.TrimSpace(string(out)), err
}

// stateAttribute returns one attribute of a resource in state.
func stateAttribute(s *terraform.State, address, key string) (string, error) {
	rs, ok := s.RootModule().Resources[address]
	if !ok {
		return "", fmt.Errorf("%s is not in state", address)
	}
	value, ok := rs.Primary.Attributes[key]
	if !ok {
		return "", fmt.Errorf("%s has no attribute %s in state", address, key)
	}
	return value, nil
}

// captureAttribute stores an attribute of the container in *into, for a later step to compare.
func captureAttribute(key string, into *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		value, err := stateAttribute(s, containerAddr, key)
		*into = value
		return err
	}
}

// procStatusField returns a field of the container init's /proc/PID/status, read on the device.
func procStatusField(t *testing.T, dev *localdevice.Device, s *terraform.State, field string) (string, error) {
	pid, err := stateAttribute(s, containerAddr, "init_pid")
	if err != nil {
		return "", err
	}
	status, err := deviceExec(t, dev, "cat", "/proc/"+pid+"/status")
	if err != nil {
		return "", fmt.Errorf("read status of init PID %s: %v: %s", pid, err, status)
	}
	match := regexp.MustCompile(`(?m)^` + field + `:\s*(\S+)`).FindStringSubmatch(status)
	if match == nil {
		return "", fmt.Errorf("/proc/%s/status has no %s line", pid, field)
	}
	return match[1], nil
}

// checkIdmap checks that uid and gid 0 inside map to host_uid_start and host_gid_start.
func checkIdmap(t *testing.T, dev *localdevice.Device) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		pid, err := stateAttribute(s, containerAddr, "init_pid")
		if err != nil {
			return err
		}
		for file, key := range map[string]string{"uid_map": "host_uid_start", "gid_map": "host_gid_start"} {
			start, err := stateAttribute(s, containerAddr, key)
			if err != nil {
				return err
			}
			size, err := stateAttribute(s, containerAddr, "idmap_size")
			if err != nil {
				return err
			}
			mapping := strings.Fields(mustDeviceExec(t, dev, "cat", "/proc/"+pid+"/"+file))
			if want := []string{"0", start, size}; strings.Join(mapping, " ") != strings.Join(want, " ") {
				return fmt.Errorf("/proc/%s/%s = %v, want %v", pid, file, mapping, want)
			}
			if start == "0" {
				return fmt.Errorf("%s is 0: root inside the container is root on the device", key)
			}
		}
		return nil
	}
}

// checkCapabilities checks the init's effective and bounding capability sets against the
// keep-list, and that no_new_privs is set.
func checkCapabilities(t *testing.T, dev *localdevice.Device, keep ...string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		want := capabilityMask(keep)
		for _, field := range []string{"CapEff", "CapBnd"} {
			text, err := procStatusField(t, dev, s, field)
			if err != nil {
				return err
			}
			got, err := strconv.ParseUint(text, 16, 64)
			if err != nil {
				return fmt.Errorf("parse %s %q: %v", field, text, err)
			}
			if got != want {
				return fmt.Errorf("%s of the container's init = %#x, want %#x (%v)", field, got, want, keep)
			}
		}
		noNewPrivs, err := procStatusField(t, dev, s, "NoNewPrivs")
		if err != nil {
			return err
		}
		if noNewPrivs != "1" {
			return fmt.Errorf("NoNewPrivs of the container's init = %s, want 1", noNewPrivs)
		}
		return nil
	}
}

// allowedDevices are the device nodes a container may see, as major:minor in hex as stat
// prints them: null, zero, full, random, urandom, tty, ptmx and pseudo-terminals (major 136-143).
var allowedDevices = regexp.MustCompile(`^(1:[3579]|1:8|5:[02]|8[89a-f]:[0-9a-f]+)$`)

// checkDevices checks that /dev in the container holds no block device and only the allowed
// character devices.
func checkDevices(t *testing.T, dev *localdevice.Device, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		blocks, err := containerExec(t, dev, name, "find", "/dev", "-type", "b")
		if err != nil {
			return fmt.Errorf("list block devices: %v", err)
		}
		if blocks != "" {
			return fmt.Errorf("the container sees block devices: %s", blocks)
		}
		chars, err := containerExec(t, dev, name, "find", "/dev", "-type", "c", "-exec", "stat", "-c", "%n %t:%T", "{}", ";")
		if err != nil {
			return fmt.Errorf("list character devices: %v", err)
		}
		for _, line := range strings.Split(chars, "\n") {
			fields := strings.Fields(line)
			if len(fields) == 2 && !allowedDevices.MatchString(fields[1]) {
				return fmt.Errorf("the container sees device %s (%s), which is not allowed", fields[0], fields[1])
			}
		}
		out, err := containerExec(t, dev, name, "head", "-c", "1", "/dev/mem")
		if err == nil {
			return fmt.Errorf("the container read /dev/mem: %q", out)
		}
		if !strings.Contains(err.Error(), "No such file") && !strings.Contains(err.Error(), "not permitted") {
			return fmt.Errorf("reading /dev/mem failed for another reason than a missing or denied device: %v", err)
		}
		return nil
	}
}

// checkReadOnlyRootfs checks that the rootfs rejects writes while /tmp accepts them.
func checkReadOnlyRootfs(t *testing.T, dev *localdevice.Device, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		out, err := containerExec(t, dev, name, "touch", "/probe")
		if err == nil {
			return fmt.Errorf("touch /probe succeeded on a read-only rootfs")
		}
		if !strings.Contains(err.Error(), "Read-only file system") {
			return fmt.Errorf("touch /probe failed, but not because the rootfs is read-only: %v: %s", err, out)
		}
		if out, err := containerExec(t, dev, name, "touch", "/tmp/probe"); err != nil {
			return fmt.Errorf("touch /tmp/probe: %v: %s", err, out)
		}
		return nil
	}
}

// checkContainerRunning checks with LXC itself that the container runs.
func checkContainerRunning(t *testing.T, dev *localdevice.Device, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		out, err := deviceExec(t, dev, "lxc-info", "-n", name, "-s")
		if err != nil || !strings.Contains(out, "RUNNING") {
			return fmt.Errorf("lxc-info -n %s -s = %q, %v; want RUNNING", name, out, err)
		}
		return nil
	}
}

// checkContainerGone checks that the device keeps nothing of the container.
func checkContainerGone(t *testing.T, dev *localdevice.Device, name string) func(*terraform.State) error {
	return func(*terraform.State) error {
		for _, p := range []string{"/var/lib/lxc/" + name, "/var/lib/iotfleet/containers/" + name} {
			if out, err := deviceExec(t, dev, "ls", "-d", p); err == nil {
				return fmt.Errorf("%s is still on the device: %s", p, out)
			}
		}
		return nil
	}
}

// checkNoContainers checks that the device holds no LXC container and no container record.
func checkNoContainers(t *testing.T, dev *localdevice.Device) error {
	for _, dir := range []string{"/var/lib/lxc", "/var/lib/iotfleet/containers"} {
		out, err := deviceExec(t, dev, "sh", "-c", "find "+dir+" -mindepth 1 -maxdepth 1 2>/dev/null || true")
		if err != nil {
			return fmt.Errorf("list %s: %v", dir, err)
		}
		if out != "" {
			return fmt.Errorf("%s on the device holds:\n%s", dir, out)
		}
	}
	return nil
}

// checkConfigHash compares config_sha256 with the container's LXC configuration on the device.
func checkConfigHash(t *testing.T, dev *localdevice.Device, name string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		sum := strings.Fields(mustDeviceExec(t, dev, "sha256sum", "/var/lib/lxc/"+name+"/config"))[0]
		return resource.TestCheckResourceAttr(containerAddr, "config_sha256", sum)(s)
	}
}

// busyboxTarball writes a gzip-compressed rootfs tarball built from the device's static busybox,
// with symlinks for the applets the tests use and a marker file, and returns its path.
func busyboxTarball(t *testing.T, dev *localdevice.Device, dir, marker string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	binary, err := dev.Exec(ctx, "cat", "/bin/busybox")
	if err != nil {
		t.Fatalf("read /bin/busybox on the device: %v", err)
	}

	var buffer bytes.Buffer
	compressed := gzip.NewWriter(&buffer)
	archive := tar.NewWriter(compressed)
	add := func(header *tar.Header, content []byte) {
		header.ModTime = time.Unix(1_700_000_000, 0)
		if err := archive.WriteHeader(header); err != nil {
			t.Fatal(err)
		}
		if _, err := archive.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	for _, folder := range []string{"bin", "dev", "etc", "proc", "run", "sys", "tmp"} {
		add(&tar.Header{Typeflag: tar.TypeDir, Name: folder + "/", Mode: 0o755}, nil)
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(binary))}, binary)
	for _, applet := range []string{"sh", "cat", "sleep", "touch", "ls", "head", "tr", "find", "stat", "id", "echo"} {
		add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777}, nil)
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/marker", Mode: 0o644, Size: int64(len(marker))}, []byte(marker))
	if err := archive.Close(); err != nil {
		t.Fatal(err)
	}
	if err := compressed.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rootfs.tar.gz")
	if err := os.WriteFile(path, buffer.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// uniqueName returns a container name that no other test device uses. Cgroups and
// /etc/subuid are shared by every local device on the machine, so two devices must not run
// containers of the same name at once.
func uniqueName(dev *localdevice.Device, base string) string {
	return base + "-" + dev.Name
}

// checkMemoryLimit reads the memory limit of the container's cgroup on the device, through the
// cgroup of its init: memory.limit_in_bytes on cgroup v1, memory.max on v2.
func checkMemoryLimit(t *testing.T, dev *localdevice.Device, want int64) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		pid, err := stateAttribute(s, containerAddr, "init_pid")
		if err != nil {
			return err
		}
		cgroups := mustDeviceExec(t, dev, "cat", "/proc/"+pid+"/cgroup")
		file := ""
		for _, line := range strings.Split(cgroups, "\n") {
			parts := strings.SplitN(line, ":", 3)
			switch {
			case len(parts) != 3:
			case slices.Contains(strings.Split(parts[1], ","), "memory"):
				file = "/sys/fs/cgroup/memory" + parts[2] + "/memory.limit_in_bytes"
			case parts[0] == "0" && parts[1] == "" && file == "":
				file = "/sys/fs/cgroup" + parts[2] + "/memory.max"
			}
		}
		if file == "" {
			return fmt.Errorf("init PID %s has no memory cgroup:\n%s", pid, cgroups)
		}
		got := mustDeviceExec(t, dev, "cat", file)
		if got != strconv.FormatInt(want, 10) {
			return fmt.Errorf("%s = %s, want %d", file, got, want)
		}
		return nil
	}
}
