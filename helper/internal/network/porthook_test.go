package network

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// runHook writes a port hook that calls a fake ip, runs it with the arguments that LXC 5.0
// passes, and returns what the fake ip received.
func runHook(t *testing.T, mode string) string {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("sh is missing")
	}
	dir := t.TempDir()
	record := filepath.Join(dir, "args")
	fakeIP := filepath.Join(dir, "ip")
	if err := os.WriteFile(fakeIP, []byte("#!/bin/sh\necho \"$@\" > "+record+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	hook := filepath.Join(dir, "port-up")
	if err := os.WriteFile(hook, []byte(renderPortHook("lan0", mode, fakeIP)), 0o755); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(hook, "web", "net", "up", "veth", "lan0", "vethAb12Cd").CombinedOutput()
	if err != nil {
		t.Fatalf("port hook failed: %v: %s", err, out)
	}
	args, err := os.ReadFile(record)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(args))
}

func TestPortHookIsolatesLastArgument(t *testing.T) {
	got := runHook(t, protocol.NetworkModeIsolated)

	if want := "link set dev vethAb12Cd type bridge_slave isolated on"; got != want {
		t.Errorf("ip got %q, want %q", got, want)
	}
}

func TestPortHookOtherModesDoNothing(t *testing.T) {
	for _, mode := range []string{protocol.NetworkModeBridge, protocol.NetworkModeNAT} {
		if got := runHook(t, mode); got != "" {
			t.Errorf("mode %s: ip got %q, want no call", mode, got)
		}
	}
}
