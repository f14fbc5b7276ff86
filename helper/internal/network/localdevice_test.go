package network_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	networkpkg "github.com/iotfleet/terraform-provider-iotfleet/helper/internal/network"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// The tests in this file build the helper, install it on a throwaway local device, create
// networks through its protocol and attach raw busybox LXC containers with the keys that
// LXCConfig renders, then check what the containers can reach. They run with TF_ACC=1 as root,
// like the provider's acceptance tests.

// Paths inside the device's mount namespace.
const (
	deviceStateDir = localdevice.StateDir
	deviceLXCPath  = localdevice.LXCPath
	deviceHelper   = deviceStateDir + "/bin/iotfleet-helper"
)

// testDevice is a started local device with the helper installed.
type testDevice struct {
	*localdevice.Device
	t *testing.T
}

func startDevice(t *testing.T) *testDevice {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("local device tests run only with TF_ACC=1")
	}
	if os.Geteuid() != 0 {
		t.Skip("local devices need root")
	}
	for _, tool := range []string{"go", "lxc-create", "lxc-start", "nft", "/usr/sbin/sshd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	name := fmt.Sprintf("n%d", time.Now().UnixNano()%1_000_000)
	dev, err := localdevice.Start(ctx, localdevice.Options{Name: name})
	if err != nil {
		t.Fatalf("start local device: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := dev.Stop(ctx); err != nil {
			t.Errorf("stop local device %s: %v", name, err)
		}
	})
	d := &testDevice{Device: dev, t: t}
	d.installHelper()
	return d
}

// installHelper builds the helper from this checkout into the device's state folder.
func (d *testDevice) installHelper() {
	d.t.Helper()
	_, file, _, _ := runtime.Caller(0)
	moduleDir := filepath.Join(filepath.Dir(file), "..", "..")
	binDir := filepath.Join(d.Dir, "iotfleet", "bin")
	if err := os.MkdirAll(binDir, 0o700); err != nil {
		d.t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "iotfleet-helper"), ".")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		d.t.Fatalf("build the helper: %v\n%s", err, out)
	}
}

// exec runs argv on the device and returns its output, failing the test on error.
func (d *testDevice) exec(argv ...string) string {
	d.t.Helper()
	out, err := d.tryExec(argv...)
	if err != nil {
		d.t.Fatalf("on device: %s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return out
}

// tryExec runs argv on the device and returns its trimmed output and error.
func (d *testDevice) tryExec(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := d.Exec(ctx, argv...)
	return strings.TrimSpace(string(out)), err
}

// call runs one helper operation on the device and decodes its result into result.
func (d *testDevice) call(op string, params, result any) {
	d.t.Helper()
	call := protocol.Call{ID: 1, Op: op}
	if params != nil {
		data, err := json.Marshal(params)
		if err != nil {
			d.t.Fatal(err)
		}
		call.Params = data
	}
	request, err := json.Marshal(protocol.Request{
		Version: protocol.Version, StateDir: deviceStateDir, LXCPath: deviceLXCPath, Calls: []protocol.Call{call},
	})
	if err != nil {
		d.t.Fatal(err)
	}
	requestFile := filepath.Join(d.Dir, "request.json")
	if err := os.WriteFile(requestFile, request, 0o600); err != nil {
		d.t.Fatal(err)
	}
	out := d.exec("sh", "-c", `exec "$0" serve < "$1"`, deviceHelper, requestFile)

	var response protocol.Response
	if err := json.Unmarshal([]byte(out), &response); err != nil {
		d.t.Fatalf("%s: decode response %q: %v", op, out, err)
	}
	if response.Error != nil || len(response.Results) != 1 || response.Results[0].Error != nil {
		d.t.Fatalf("%s failed: %s", op, out)
	}
	if result != nil {
		if err := json.Unmarshal(response.Results[0].Data, result); err != nil {
			d.t.Fatalf("%s: decode result: %v", op, err)
		}
	}
}

// applyNetwork creates a network through the helper.
func (d *testDevice) applyNetwork(spec protocol.NetworkSpec) {
	d.t.Helper()
	var result protocol.NetworkApplyResult
	d.call(protocol.OpNetworkApply, spec, &result)
	if result.State.Bridge != spec.Name || !result.State.RulesInPlace {
		d.t.Fatalf("network %s after apply: %+v", spec.Name, result.State)
	}
}

// createContainer creates a busybox container with one NIC on network and returns its
// address. Its init does not run udhcpc, which would remove the address that LXC set.
func (d *testDevice) createContainer(name, network, address string) netip.Addr {
	d.t.Helper()
	d.exec("lxc-create", "-n", name, "-t", "busybox")

	// The device's state folder is a bind mount of this folder, so the test reads and writes
	// the helper's records here, under the lock-free conditions of a test.
	attachment, err := networkpkg.AllocateAddress(filepath.Join(d.Dir, "iotfleet"), network, name, address)
	if err != nil {
		d.t.Fatal(err)
	}
	attachment.PortHook = networkpkg.PortHookPath(deviceStateDir, network)

	containerDir := filepath.Join(d.Dir, "lxc", name)
	configPath := filepath.Join(containerDir, "config")
	config, err := os.ReadFile(configPath)
	if err != nil {
		d.t.Fatal(err)
	}
	var withoutNet []string
	for _, line := range strings.Split(string(config), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "lxc.net.") {
			withoutNet = append(withoutNet, line)
		}
	}
	withoutNet = append(withoutNet, networkpkg.LXCConfig(attachment, 0)...)
	if err := os.WriteFile(configPath, []byte(strings.Join(withoutNet, "\n")+"\n"), 0o640); err != nil {
		d.t.Fatal(err)
	}
	rcS := filepath.Join(containerDir, "rootfs", "etc", "init.d", "rcS")
	if err := os.WriteFile(rcS, []byte("#!/bin/sh\n/bin/mount -a\n"), 0o755); err != nil {
		d.t.Fatal(err)
	}
	d.exec("lxc-start", "-n", name)
	d.exec("lxc-wait", "-n", name, "-s", "RUNNING", "-t", "30")
	return attachment.Address.Addr()
}

// inContainer runs argv in a container and returns its output and error.
func (d *testDevice) inContainer(name string, argv ...string) (string, error) {
	return d.tryExec(append([]string{"lxc-attach", "-n", name, "--"}, argv...)...)
}

// ping reports whether container from receives an echo reply from address.
func (d *testDevice) ping(from string, address netip.Addr) bool {
	_, err := d.inContainer(from, "ping", "-c", "1", "-W", "2", address.String())
	return err == nil
}

// acceptOne accepts one TCP connection on listener within timeout and returns the remote
// address and what the client sent.
func acceptOne(listener net.Listener, timeout time.Duration) (netip.AddrPort, string, error) {
	if err := listener.(*net.TCPListener).SetDeadline(time.Now().Add(timeout)); err != nil {
		return netip.AddrPort{}, "", err
	}
	conn, err := listener.Accept()
	if err != nil {
		return netip.AddrPort{}, "", err
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return netip.AddrPort{}, "", err
	}
	var data bytes.Buffer
	buf := make([]byte, 256)
	for {
		n, err := conn.Read(buf)
		data.Write(buf[:n])
		if err != nil || bytes.Contains(data.Bytes(), []byte("\n")) {
			break
		}
	}
	remote := conn.RemoteAddr().(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port()), strings.TrimSpace(data.String()), nil
}

func TestLocalDeviceConnectivity(t *testing.T) {
	d := startDevice(t)
	specs := []protocol.NetworkSpec{
		{Name: "br0", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.80.0.1/24"},
		{Name: "iso0", Mode: protocol.NetworkModeIsolated, IPv4CIDR: "10.70.0.1/24"},
		{Name: "nat0", Mode: protocol.NetworkModeNAT, IPv4CIDR: "10.90.0.1/24", Uplink: "eth0"},
		{Name: "nat1", Mode: protocol.NetworkModeNAT, IPv4CIDR: "10.91.0.1/24", Uplink: "eth0"},
	}
	for _, spec := range specs {
		d.applyNetwork(spec)
	}
	a := d.createContainer("a", "br0", "")
	b := d.createContainer("b", "br0", "")
	c := d.createContainer("c", "iso0", "")
	e := d.createContainer("e", "iso0", "10.70.0.50")
	n0 := d.createContainer("n0", "nat0", "")
	n1 := d.createContainer("n1", "nat1", "")
	if e.String() != "10.70.0.50" {
		t.Fatalf("container e got %s, want its static address 10.70.0.50", e)
	}

	t.Run("bridge", func(t *testing.T) {
		if !d.ping("a", b) {
			t.Errorf("a cannot reach b (%s) on a bridge network", b)
		}
		if !d.ping("b", a) {
			t.Errorf("b cannot reach a (%s) on a bridge network", a)
		}
		if !d.ping("b", netip.MustParseAddr("10.80.0.1")) {
			t.Error("b cannot reach the device's gateway 10.80.0.1")
		}
		if d.ping("a", n0) {
			t.Errorf("a on a bridge network reaches n0 (%s) on a NAT network; the device routed it", n0)
		}
	})

	t.Run("isolated", func(t *testing.T) {
		if d.ping("c", e) || d.ping("e", c) {
			t.Errorf("c (%s) and e (%s) reach each other on an isolated network", c, e)
		}
		if !d.ping("c", netip.MustParseAddr("10.70.0.1")) {
			t.Error("c cannot reach the device's gateway 10.70.0.1")
		}
	})

	t.Run("nat to host", func(t *testing.T) {
		listener, err := net.Listen("tcp", net.JoinHostPort(d.HostIP.String(), "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer listener.Close()
		port := fmt.Sprint(listener.Addr().(*net.TCPAddr).Port)
		type accepted struct {
			remote netip.AddrPort
			data   string
			err    error
		}
		done := make(chan accepted, 1)
		go func() {
			remote, data, err := acceptOne(listener, 20*time.Second)
			done <- accepted{remote, data, err}
		}()

		out, err := d.inContainer("n0", "sh", "-c", `echo "hello from n0" | nc -w 5 "$0" "$1"`, d.HostIP.String(), port)
		got := <-done
		if got.err != nil {
			t.Fatalf("no connection from n0 reached %s:%s: %v (nc: %v: %s)", d.HostIP, port, got.err, err, out)
		}
		if got.remote.Addr() != d.IP {
			t.Errorf("connection came from %s, want the device's address %s (masqueraded)", got.remote.Addr(), d.IP)
		}
		if got.data != "hello from n0" {
			t.Errorf("listener received %q", got.data)
		}
	})

	t.Run("nat to nat keeps source", func(t *testing.T) {
		cgi := filepath.Join(d.Dir, "lxc", "n1", "rootfs", "www", "cgi-bin")
		if err := os.MkdirAll(cgi, 0o755); err != nil {
			t.Fatal(err)
		}
		script := "#!/bin/sh\necho Content-Type: text/plain\necho\necho $REMOTE_ADDR\n"
		if err := os.WriteFile(filepath.Join(cgi, "ip"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := d.inContainer("n1", "httpd", "-p", "8080", "-h", "/www"); err != nil {
			t.Fatalf("start httpd in n1: %v: %s", err, out)
		}

		// busybox's wget crashes in these containers, so nc sends the request.
		out, err := d.inContainer("n0", "sh", "-c",
			`printf 'GET /cgi-bin/ip HTTP/1.0\r\n\r\n' | nc -w 5 "$0" 8080`, n1.String())
		if err != nil {
			t.Fatalf("n0 cannot reach n1 (%s) on another NAT network: %v: %s", n1, err, out)
		}
		// httpd listens on an IPv6 socket, so it prints the address in v4-mapped form.
		lines := strings.Split(strings.TrimSpace(out), "\n")
		seen := strings.Trim(strings.TrimSpace(lines[len(lines)-1]), "[]")
		source, err := netip.ParseAddr(seen)
		if err != nil || source.Unmap() != n0 {
			t.Errorf("n1 saw the request come from %q, want n0's own address %s; response:\n%s", seen, n0, out)
		}
	})

	t.Run("restore after reboot", func(t *testing.T) {
		for _, name := range []string{"a", "b"} {
			config := filepath.Join(d.Dir, "lxc", name, "config")
			file, err := os.OpenFile(config, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = file.WriteString("lxc.start.auto = 1\n")
			file.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		// A reboot loses the containers, the bridges and the rules.
		for _, name := range []string{"a", "b", "c", "e", "n0", "n1"} {
			d.exec("lxc-stop", "-n", name, "-k")
		}
		for _, spec := range specs {
			d.exec("ip", "link", "delete", "dev", spec.Name)
		}
		d.exec("nft", "delete", "table", "ip", "iotfleet")

		out := d.exec(deviceHelper, networkpkg.RestoreCommand, deviceStateDir, deviceLXCPath)

		for _, spec := range specs {
			d.exec("ip", "link", "show", "dev", spec.Name)
		}
		for name, want := range map[string]string{"a": "RUNNING", "b": "RUNNING", "c": "STOPPED"} {
			if got := d.exec("lxc-info", "-n", name, "-s", "-H"); got != want {
				t.Errorf("container %s is %s after restore, want %s (restore printed %s)", name, got, want, out)
			}
		}
		if !d.ping("a", b) {
			t.Errorf("a cannot reach b (%s) after restore", b)
		}
		var networkState protocol.NetworkState
		d.call(protocol.OpNetworkGet, protocol.NetworkName{Name: "nat0"}, &networkState)
		if !networkState.RulesInPlace || !networkState.Forwarding {
			t.Errorf("nat0 after restore: %+v", networkState)
		}
	})
}
