package network

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// startInNamespace starts a process in a new network namespace and returns its PID. The
// process is killed when the test ends.
func startInNamespace(t *testing.T) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	cmd := exec.Command("unshare", "--net", "--", "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("start unshare: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	nsLink := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/net"
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if other, err := os.Readlink(nsLink); err == nil && other != own {
			return cmd
		}
		if time.Now().After(deadline) {
			t.Skip("unshare did not enter a new network namespace within 5 s")
		}
	}
}

// addAddress adds cidr to the interface lo in the network namespace of process pid.
func addAddress(t *testing.T, pid int, cidr string) {
	t.Helper()
	namespace, err := netns.GetFromPid(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer namespace.Close()
	handle, err := netlink.NewHandleAt(namespace)
	if err != nil {
		t.Skipf("cannot enter the namespace here: %v", err)
	}
	defer handle.Close()
	lo, err := handle.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := handle.AddrAdd(lo, addr); err != nil {
		t.Fatal(err)
	}
}

func TestInterfaceAddresses(t *testing.T) {
	cmd := startInNamespace(t)
	pid := cmd.Process.Pid
	addAddress(t, pid, "192.0.2.9/24")
	addAddress(t, pid, "192.0.2.7/24")

	got, err := InterfaceAddresses(pid, []string{"lo", "eth9"})

	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"192.0.2.7", "192.0.2.9"}; !slices.Equal(got["lo"], want) {
		t.Errorf("addresses of lo = %q, want %q", got["lo"], want)
	}
	if eth9, ok := got["eth9"]; !ok || len(eth9) != 0 {
		t.Errorf("addresses of the missing eth9 = %q (listed: %t), want an empty list", eth9, ok)
	}
}

func TestInterfaceAddressesProcessGone(t *testing.T) {
	cmd := startInNamespace(t)
	pid := cmd.Process.Pid
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	_, err := InterfaceAddresses(pid, []string{"eth0"})

	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error = %v, want one that wraps fs.ErrNotExist", err)
	}
}
