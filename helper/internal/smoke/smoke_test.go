package smoke

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Environment that `make helper-smoke` sets.
const (
	dirEnv     = "IOTFLEET_HELPER_SMOKE_DIR"
	versionEnv = "IOTFLEET_HELPER_SMOKE_VERSION"
)

// commandTimeout bounds one run of a helper; qemu-user can hang instead of failing.
const commandTimeout = time.Minute

type target struct {
	goarch string

	// emulator runs the binary on this machine, or is empty when it runs natively.
	emulator string

	machine       elf.Machine
	unameMachines []string
}

var targets = []target{
	{goarch: "amd64", emulator: "qemu-x86_64-static", machine: elf.EM_X86_64, unameMachines: []string{"x86_64"}},
	{goarch: "arm64", emulator: "qemu-aarch64-static", machine: elf.EM_AARCH64, unameMachines: []string{"aarch64"}},
	{goarch: "arm", emulator: "qemu-arm-static", machine: elf.EM_ARM, unameMachines: []string{"armv7l", "armv8l"}},
}

func TestBuiltHelpers(t *testing.T) {
	dir := os.Getenv(dirEnv)
	if dir == "" {
		t.Skipf("%s is not set; `make helper-smoke` sets it after building the helpers", dirEnv)
	}
	version := os.Getenv(versionEnv)
	if version == "" {
		t.Fatalf("%s is not set; set it to the version the helpers were built with", versionEnv)
	}

	for _, target := range targets {
		t.Run(target.goarch, func(t *testing.T) {
			binary := filepath.Join(dir, "iotfleet-helper-linux-"+target.goarch)
			checkELF(t, binary, target.machine)
			command := target.command(binary)
			checkVersion(t, command, version)
			checkServe(t, command, version, target.unameMachines)
			checkVersionMismatch(t, command)
		})
	}
}

// command returns the argv prefix that runs binary on this machine.
func (target target) command(binary string) []string {
	if target.goarch == runtime.GOARCH {
		return []string{binary}
	}
	return []string{target.emulator, binary}
}

// checkELF checks the binary's architecture and that it carries no symbol table.
func checkELF(t *testing.T, binary string, machine elf.Machine) {
	t.Helper()
	file, err := elf.Open(binary)
	if err != nil {
		t.Fatalf("open helper: %v", err)
	}
	defer file.Close()
	if file.Machine != machine {
		t.Errorf("ELF machine = %v, want %v", file.Machine, machine)
	}
	if file.Section(".symtab") != nil {
		t.Error("binary has a .symtab section; build it with -ldflags -s")
	}
}

func checkVersion(t *testing.T, command []string, version string) {
	t.Helper()
	stdout, stderr := runHelper(t, command, "version", nil)

	want := "iotfleet-helper " + version + " protocol 1\n"
	if stdout != want {
		t.Errorf("version printed %q, want %q; stderr: %s", stdout, want, stderr)
	}
}

func checkServe(t *testing.T, command []string, version string, machines []string) {
	t.Helper()
	response := serve(t, command, protocol.Request{
		Version:  protocol.Version,
		StateDir: filepath.Join(t.TempDir(), "state"),
		LXCPath:  "/var/lib/lxc",
		Calls: []protocol.Call{
			{ID: 1, Op: protocol.OpHello},
			{ID: 2, Op: protocol.OpFacts},
			{ID: 3, Op: protocol.OpInventory},
			{ID: 4, Op: "no-such-op"},
		},
	})
	if response.Error != nil {
		t.Fatalf("request failed: %v", response.Error)
	}
	if response.HelperVersion != version {
		t.Errorf("response helper_version = %q, want %q", response.HelperVersion, version)
	}
	if len(response.Results) != 4 {
		t.Fatalf("got %d results, want 4", len(response.Results))
	}

	var hello protocol.HelloResult
	decode(t, response.Results[0], &hello)
	if hello != (protocol.HelloResult{HelperVersion: version, ProtocolVersion: protocol.Version}) {
		t.Errorf("hello = %+v", hello)
	}

	var facts protocol.Facts
	decode(t, response.Results[1], &facts)
	checkFacts(t, facts, machines)

	var inventory protocol.Inventory
	decode(t, response.Results[2], &inventory)
	if inventory.Containers == nil || !inventory.Empty() {
		t.Errorf("inventory of a missing state folder = %+v, want empty lists", inventory)
	}

	if got := response.Results[3].Error; got == nil || got.Code != protocol.CodeUnknownOp {
		t.Errorf("unknown op error = %v, want code %q", got, protocol.CodeUnknownOp)
	}
}

func checkFacts(t *testing.T, facts protocol.Facts, machines []string) {
	t.Helper()
	if !slices.Contains(machines, facts.Arch) {
		t.Errorf("facts arch = %q, want one of %q", facts.Arch, machines)
	}
	if facts.KernelRelease == "" {
		t.Error("facts kernel_release is empty")
	}
	if !regexp.MustCompile(`^\d+\.\d+`).MatchString(facts.LXCVersion) {
		t.Errorf("facts lxc_version = %q, want a version number", facts.LXCVersion)
	}
	if !slices.Contains([]string{protocol.CgroupV1, protocol.CgroupV2, protocol.CgroupHybrid}, facts.CgroupLayout) {
		t.Errorf("facts cgroup_layout = %q, want v1, v2 or hybrid", facts.CgroupLayout)
	}
	if facts.SeccompActions == nil {
		t.Error("facts seccomp_actions is null, want a list")
	}
}

func checkVersionMismatch(t *testing.T, command []string) {
	t.Helper()
	response := serve(t, command, protocol.Request{
		Version: protocol.Version + 1, StateDir: "/var/lib/iotfleet", LXCPath: "/var/lib/lxc",
	})
	if response.Error == nil || response.Error.Code != protocol.CodeUnsupportedVersion {
		t.Errorf("response error = %v, want code %q", response.Error, protocol.CodeUnsupportedVersion)
	}
}

func serve(t *testing.T, command []string, request protocol.Request) protocol.Response {
	t.Helper()
	input, err := json.Marshal(request)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr := runHelper(t, command, protocol.ServeCommand, input)

	var response protocol.Response
	if err := json.Unmarshal([]byte(stdout), &response); err != nil {
		t.Fatalf("serve printed no valid response: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	if response.Version != protocol.Version {
		t.Errorf("response version = %d, want %d", response.Version, protocol.Version)
	}
	return response
}

// runHelper runs the helper with one argument and stdin, and fails the test unless it exits 0.
func runHelper(t *testing.T, command []string, arg string, stdin []byte) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()

	argv := append(slices.Clone(command), arg)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%q: %v\nstderr: %s", argv, err, errOut.String())
	}
	return out.String(), errOut.String()
}

func decode(t *testing.T, result protocol.Result, value any) {
	t.Helper()
	if result.Error != nil {
		t.Fatalf("call %d failed: %v", result.ID, result.Error)
	}
	if err := json.Unmarshal(result.Data, value); err != nil {
		t.Fatalf("decode result %d: %v", result.ID, err)
	}
}
