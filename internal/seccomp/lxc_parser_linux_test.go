package seccomp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// These tests feed policies to LXC's own parser without starting a container. lxc-start reads
// the seccomp policy during initialization, creates and removes a monitor cgroup, and then
// fails on the missing rootfs before it clones anything. Each run takes about 20 ms and runs
// in a network namespace of its own, so its command socket cannot collide with other
// containers.

// lxcCompatArchIDs are the arch numbers LXC's log prints for rules added to a compat context:
// libseccomp's SCMP_ARCH_X86, SCMP_ARCH_X32 and SCMP_ARCH_ARM.
var lxcCompatArchIDs = map[Arch]uint32{
	ArchX86: 0x40000003,
	ArchX32: 0x4000003e,
	ArchARM: 0x40000028,
}

var addedRule = regexp.MustCompile(`Adding (native|compat) rule for syscall\[(-?\d+):([a-z0-9_]+)\] action\[\d+:\w+\] arch\[(\d+)\]`)

var lxcRunCount atomic.Int32

func TestGoldenPoliciesLoadInLXC(t *testing.T) {
	hostArch := requireLXC(t)
	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			policy, err := os.ReadFile(filepath.Join("testdata", "render", c.name+".policy"))
			if err != nil {
				t.Fatal(err)
			}
			log := parseWithLXC(t, string(policy))
			if !strings.Contains(log, "Read seccomp policy") {
				t.Fatalf("LXC rejected the policy:\n%s", lxcErrors(log))
			}
			if c.arch != hostArch {
				return // LXC resolves names for the host only, so only the syntax was checked.
			}
			if strings.Contains(log, "is undefined on host native arch") {
				t.Errorf("LXC skipped names it does not know:\n%s", grepLines(log, "is undefined"))
			}
			checkAddedRules(t, c.profile, hostArch, log)
		})
	}
}

// checkAddedRules compares the rules LXC logs as added with the tables: the native number of
// each name, and the compat ABIs that have it (minus x86's multiplexed socket and IPC calls).
func checkAddedRules(t *testing.T, p Profile, hostArch Arch, log string) {
	t.Helper()
	added := make(map[string]bool)
	for _, m := range addedRule.FindAllStringSubmatch(log, -1) {
		added[m[1]+" "+m[3]+" "+m[2]+" "+m[4]] = true
	}
	names := append([]string(nil), p.Syscalls...)
	for _, r := range p.Rules {
		names = append(names, r.Syscall)
	}
	for _, name := range names {
		if nr, ok := Lookup(hostArch, name); ok {
			if key := fmt.Sprintf("native %s %d 0", name, nr); !added[key] {
				t.Errorf("LXC did not add native rule %s %d", name, nr)
			}
		}
		for _, compat := range CompatArches(hostArch) {
			_, inTable := Lookup(compat, name)
			_, multiplexed := x86Multiplexed[name]
			want := inTable && !(compat == ArchX86 && multiplexed)
			if got := addedToCompat(added, name, lxcCompatArchIDs[compat]); got != want {
				t.Errorf("LXC added %s to compat ABI %s: %v; want %v", name, compat, got, want)
			}
		}
	}
}

func addedToCompat(added map[string]bool, name string, archID uint32) bool {
	suffix := " " + strconv.FormatUint(uint64(archID), 10)
	for key := range added {
		if strings.HasPrefix(key, "compat "+name+" ") && strings.HasSuffix(key, suffix) {
			return true
		}
	}
	return false
}

// TestLXCParserRejections backs Validate's and Render's rules with the real parser: each
// policy here is one that they never produce.
func TestLXCParserRejections(t *testing.T) {
	requireLXC(t)
	const header = "2\nallowlist errno 38\n[all]\n"
	cases := map[string]string{
		"leading whitespace":         header + " read\n",
		"log action":                 header + "read log\n",
		"rule equal to default":      header + "read errno 38\n",
		"argument compared twice":    header + "read allow [0,1,SCMP_CMP_GT] [0,5,SCMP_CMP_LT]\n",
		"same arguments two actions": header + "write allow [0,1,SCMP_CMP_EQ]\nwrite kill [0,1,SCMP_CMP_EQ]\n",
		"errno 4095":                 header + "read errno 4095\n",
		"arguments without action":   header + "read [0,1,SCMP_CMP_EQ]\n",
		"libseccomp arch as section": "2\nallowlist errno 38\n[aarch64]\nread\n",
		"default errno 4095":         "2\nallowlist errno 4095\n[all]\nread\n",
	}
	for name, policy := range cases {
		t.Run(name, func(t *testing.T) {
			log := parseWithLXC(t, policy)
			if strings.Contains(log, "Read seccomp policy") {
				t.Errorf("LXC accepted the policy:\n%s", policy)
			}
			if !strings.Contains(log, "Failed to read seccomp policy") {
				t.Errorf("lxc-start failed before parsing the policy:\n%s", lxcErrors(log))
			}
		})
	}
}

// TestLXCNamedSectionMatchesAll shows that [all] loads the same rules as the host's named
// section, which is why Render uses [all].
func TestLXCNamedSectionMatchesAll(t *testing.T) {
	hostArch := requireLXC(t)
	policy, err := os.ReadFile(filepath.Join("testdata", "render", string(hostArch)+"_args.policy"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no golden policy %s_args.policy for this host", hostArch)
	}
	if err != nil {
		t.Fatal(err)
	}
	withAll := addedRuleLines(parseWithLXC(t, string(policy)))
	named := strings.Replace(string(policy), "\n[all]\n", "\n["+string(hostArch)+"]\n", 1)
	withNamed := addedRuleLines(parseWithLXC(t, named))
	if len(withAll) == 0 || withAll != withNamed {
		t.Errorf("rules added under [all]:\n%s\nunder [%s]:\n%s", withAll, hostArch, withNamed)
	}
}

func addedRuleLines(log string) string {
	return strings.Join(addedRule.FindAllString(log, -1), "\n")
}

// requireLXC skips unless IOTFLEET_LXC_TESTS=1, the test runs as root and lxc-start and
// unshare exist. It returns the host's ABI.
func requireLXC(t *testing.T) Arch {
	t.Helper()
	if os.Getenv("IOTFLEET_LXC_TESTS") != "1" {
		t.Skip("set IOTFLEET_LXC_TESTS=1 to check policies with LXC's parser (needs root and lxc-start)")
	}
	if os.Geteuid() != 0 {
		t.Skip("checking policies with LXC's parser needs root")
	}
	for _, tool := range []string{"lxc-start", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: %v", tool, err)
		}
	}
	machine, err := exec.Command("uname", "-m").Output()
	if err != nil {
		t.Fatalf("run uname -m: %v", err)
	}
	arch, err := ArchForMachine(strings.TrimSpace(string(machine)))
	if err != nil {
		t.Skipf("host: %v", err)
	}
	return arch
}

// parseWithLXC runs lxc-start on a container whose rootfs does not exist and returns LXC's
// trace log, which records how the policy was parsed.
func parseWithLXC(t *testing.T, policy string) string {
	t.Helper()
	dir := t.TempDir()
	name := fmt.Sprintf("iotf-seccomp-%d-%d", os.Getpid(), lxcRunCount.Add(1))
	policyPath := filepath.Join(dir, "policy")
	config := strings.Join([]string{
		"lxc.uts.name = " + name,
		"lxc.rootfs.path = dir:" + filepath.Join(dir, "missing-rootfs"),
		"lxc.net.0.type = empty",
		"lxc.seccomp.profile = " + policyPath,
	}, "\n") + "\n"
	writeFile(t, policyPath, policy)
	writeFile(t, filepath.Join(dir, name, "config"), config)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logPath := filepath.Join(dir, "lxc.log")
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--", "lxc-start",
		"-n", name, "-P", dir, "-F", "-l", "TRACE", "-o", logPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	output, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("lxc-start %s succeeded although the rootfs is missing:\n%s", name, output)
	}
	if ctx.Err() != nil {
		t.Fatalf("lxc-start %s timed out: %s", name, output)
	}
	checkNoCgroupsLeft(t, name)

	log, readErr := os.ReadFile(logPath)
	if readErr != nil {
		t.Fatalf("read LXC log: %v (lxc-start: %v: %s)", readErr, err, output)
	}
	return string(log)
}

// checkNoCgroupsLeft fails the test if LXC left a cgroup named after the container, and
// removes it: the name is unique to this run.
func checkNoCgroupsLeft(t *testing.T, name string) {
	t.Helper()
	for _, pattern := range []string{"/sys/fs/cgroup/lxc.*." + name, "/sys/fs/cgroup/*/lxc.*." + name} {
		left, _ := filepath.Glob(pattern)
		for _, path := range left {
			t.Errorf("lxc-start left cgroup %s behind", path)
			if err := os.Remove(path); err != nil {
				t.Errorf("remove cgroup %s: %v", path, err)
			}
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lxcErrors(log string) string {
	return grepLines(log, " ERROR ")
}

func grepLines(text, substring string) string {
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, substring) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}
