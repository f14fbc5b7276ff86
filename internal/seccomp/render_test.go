package seccomp

import (
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden policies in testdata/render")

// lxcStartBase is what LXC 5.0.2 calls after loading the filter on x86_64, so that the golden
// policies look like real ones.
var lxcStartBase = []string{
	"capget", "close", "execve", "fchmod", "fchown", "getuid", "newfstatat", "openat",
	"read", "sendmsg", "sendto", "setgroups", "setsid", "write",
}

type renderCase struct {
	name    string
	arch    Arch
	profile Profile
}

func renderCases() []renderCase {
	allow := Action{Kind: ActionAllow}
	argRules := []Rule{
		{Syscall: "personality", Action: allow, Args: []ArgFilter{{Index: 0, Op: OpEq, Value: 0}}},
		{Syscall: "personality", Action: Action{Kind: ActionErrno, Errno: 22}, Args: []ArgFilter{{Index: 0, Op: OpEq, Value: 0xffffffff}}},
		{Syscall: "ioctl", Action: allow, Args: []ArgFilter{{Index: 1, Op: OpMaskedEq, Value: 0x5400, Mask: 0xff00}}},
		{Syscall: "clone", Action: Action{Kind: ActionKill}, Args: []ArgFilter{
			{Index: 0, Op: OpMaskedEq, Value: 0x10000000, Mask: 0x7e020000},
		}},
		{Syscall: "prctl", Action: Action{Kind: ActionErrno, Errno: 1}, Args: []ArgFilter{
			{Index: 1, Op: OpNe, Value: 0}, {Index: 0, Op: OpGe, Value: 22},
		}},
		{Syscall: "ptrace", Action: Action{Kind: ActionTrap}},
	}
	withBase := func(extra ...string) []string { return append(slices.Clone(lxcStartBase), extra...) }

	return []renderCase{
		{"x86_64_errno", ArchX86_64, Profile{DefaultAction: Action{Kind: ActionErrno}, Syscalls: withBase("exit_group")}},
		{"x86_64_errno_eperm", ArchX86_64, Profile{DefaultAction: Action{Kind: ActionErrno, Errno: 1}, Syscalls: withBase()}},
		{"x86_64_kill", ArchX86_64, Profile{DefaultAction: Action{Kind: ActionKill}, Syscalls: withBase()}},
		{"x86_64_trap", ArchX86_64, Profile{DefaultAction: Action{Kind: ActionTrap}, Syscalls: withBase()}},
		{"x86_64_args", ArchX86_64, Profile{DefaultAction: Action{Kind: ActionErrno}, Syscalls: withBase(), Rules: argRules}},
		{"x86_64_compat_allowed", ArchX86_64, Profile{
			DefaultAction:   Action{Kind: ActionErrno},
			Syscalls:        withBase("mmap2", "_llseek", "socketcall", "ipc", "futex_time64", "socket"),
			AllowCompatABIs: true,
		}},
		{"x86_errno", ArchX86, Profile{
			DefaultAction: Action{Kind: ActionErrno},
			Syscalls:      []string{"read", "write", "close", "execve", "mmap2", "socketcall", "fstatat64"},
			Rules:         argRules,
		}},
		{"arm64_compat_denied", ArchARM64, Profile{
			DefaultAction: Action{Kind: ActionErrno},
			Syscalls:      []string{"read", "write", "close", "execve", "openat", "newfstatat", "dup3"},
			Rules:         argRules,
		}},
		{"arm64_compat_allowed", ArchARM64, Profile{
			DefaultAction:   Action{Kind: ActionErrno},
			Syscalls:        []string{"read", "write", "mmap2", "_llseek", "futex_time64", "set_tls", "cacheflush"},
			AllowCompatABIs: true,
		}},
		{"arm_errno", ArchARM, Profile{
			DefaultAction: Action{Kind: ActionErrno},
			Syscalls:      []string{"read", "write", "close", "mmap2", "set_tls", "cacheflush", "fstatat64"},
			Rules:         argRules,
		}},
	}
}

func TestRenderGolden(t *testing.T) {
	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			got, err := Render(c.profile, c.arch)
			if err != nil {
				t.Fatalf("Render = %v", err)
			}
			path := filepath.Join("testdata", "render", c.name+".policy")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden policy (run go test -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("Render differs from %s (run go test -update after checking the change):\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// TestRenderFormat checks the rules of LXC 5.0.2's parser on every rendered policy, apart from
// the golden content.
func TestRenderFormat(t *testing.T) {
	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			policy, err := Render(c.profile, c.arch)
			if err != nil {
				t.Fatalf("Render = %v", err)
			}
			checkPolicyFormat(t, c, policy)
		})
	}
}

func checkPolicyFormat(t *testing.T, c renderCase, policy string) {
	t.Helper()
	if !strings.HasSuffix(policy, "\n") {
		t.Error("policy does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(policy, "\n"), "\n")
	if lines[0] != "2" {
		t.Errorf("line 1 = %q; want the format version 2", lines[0])
	}
	if want := "allowlist " + describeAction(c.profile.DefaultAction); lines[1] != want {
		t.Errorf("line 2 = %q; want %q", lines[1], want)
	}
	var rules []string
	sections := 0
	for _, line := range lines[2:] {
		switch {
		case line == "" || strings.TrimLeft(line, " \t") != line || strings.TrimRight(line, " \t") != line:
			t.Errorf("line %q is empty or has surrounding whitespace", line)
		case strings.HasPrefix(line, "#"):
		case line == "[all]":
			sections++
		case strings.HasPrefix(line, "["):
			t.Errorf("unexpected section %q", line)
		default:
			rules = append(rules, line)
		}
	}
	if sections != 1 {
		t.Errorf("policy has %d [all] sections; want 1", sections)
	}
	if !slices.IsSorted(rules) {
		t.Errorf("rules are not sorted: %q", rules)
	}
	if want := len(c.profile.Syscalls) + len(c.profile.Rules); len(rules) != want {
		t.Errorf("policy has %d rules; want %d", len(rules), want)
	}
}

func TestRenderIgnoresInputOrder(t *testing.T) {
	random := rand.New(rand.NewPCG(1, 2))
	for _, c := range renderCases() {
		want, err := Render(c.profile, c.arch)
		if err != nil {
			t.Fatalf("%s: Render = %v", c.name, err)
		}
		shuffled := c.profile
		shuffled.Syscalls = slices.Clone(c.profile.Syscalls)
		shuffled.Rules = slices.Clone(c.profile.Rules)
		random.Shuffle(len(shuffled.Syscalls), func(i, j int) {
			shuffled.Syscalls[i], shuffled.Syscalls[j] = shuffled.Syscalls[j], shuffled.Syscalls[i]
		})
		random.Shuffle(len(shuffled.Rules), func(i, j int) {
			shuffled.Rules[i], shuffled.Rules[j] = shuffled.Rules[j], shuffled.Rules[i]
		})
		for i := range shuffled.Rules {
			shuffled.Rules[i].Args = slices.Clone(shuffled.Rules[i].Args)
			slices.Reverse(shuffled.Rules[i].Args)
		}
		if got, _ := Render(shuffled, c.arch); got != want {
			t.Errorf("%s: Render of the shuffled profile differs:\n%s\nwant:\n%s", c.name, got, want)
		}
	}
}

func TestRenderRejectsInvalidProfile(t *testing.T) {
	p := Profile{DefaultAction: Action{Kind: ActionErrno}, Syscalls: []string{"opnat"}}
	policy, err := Render(p, ArchX86_64)
	var validationErr *ValidationError
	if !errors.As(err, &validationErr) {
		t.Fatalf("Render error = %v; want a *ValidationError", err)
	}
	if policy != "" {
		t.Errorf("Render returned a policy with its error:\n%s", policy)
	}
}

func TestRuleLine(t *testing.T) {
	cases := []struct {
		rule Rule
		want string
	}{
		{Rule{Syscall: "ptrace", Action: Action{Kind: ActionTrap}}, "ptrace trap"},
		{Rule{Syscall: "mount", Action: Action{Kind: ActionErrno}}, "mount errno 38"},
		{Rule{Syscall: "kill", Action: Action{Kind: ActionAllow}, Args: []ArgFilter{{Index: 1, Op: OpLe, Value: 15}}},
			"kill allow [1,15,SCMP_CMP_LE]"},
		{Rule{Syscall: "ioctl", Action: Action{Kind: ActionErrno, Errno: 25}, Args: []ArgFilter{
			{Index: 1, Op: OpMaskedEq, Value: 0x5400, Mask: 0xff00}, {Index: 0, Op: OpLt, Value: 3},
		}}, "ioctl errno 25 [0,3,SCMP_CMP_LT] [1,21504,SCMP_CMP_MASKED_EQ,65280]"},
		{Rule{Syscall: "lseek", Action: Action{Kind: ActionKill}, Args: []ArgFilter{{Index: 1, Op: OpGt, Value: 1<<64 - 1}}},
			"lseek kill [1,18446744073709551615,SCMP_CMP_GT]"},
	}
	for _, c := range cases {
		if got := ruleLine(c.rule); got != c.want {
			t.Errorf("ruleLine = %q; want %q", got, c.want)
		}
	}
}
