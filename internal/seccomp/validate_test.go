package seccomp

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

var errnoDefault = Action{Kind: ActionErrno}

func TestValidateAcceptsValidProfile(t *testing.T) {
	p := Profile{
		DefaultAction: errnoDefault,
		Syscalls:      []string{"read", "write", "openat", "close"},
		Rules: []Rule{
			{Syscall: "ioctl", Action: Action{Kind: ActionAllow}, Args: []ArgFilter{
				{Index: 1, Op: OpMaskedEq, Value: 0x5400, Mask: 0xff00},
			}},
			{Syscall: "personality", Action: Action{Kind: ActionAllow}, Args: []ArgFilter{{Index: 0, Op: OpEq, Value: 0}}},
			{Syscall: "personality", Action: Action{Kind: ActionErrno, Errno: 22}, Args: []ArgFilter{{Index: 0, Op: OpEq, Value: 0xffffffff}}},
			{Syscall: "kill", Action: Action{Kind: ActionTrap}},
		},
	}
	for _, arch := range NativeArches() {
		if err := Validate(p, arch); err != nil {
			t.Errorf("Validate(%s) = %v; want nil", arch, err)
		}
	}
}

func TestValidateNames(t *testing.T) {
	cases := []struct {
		name    string
		arch    Arch
		compat  bool
		syscall string
		want    string
	}{
		{"typo with suggestion", ArchX86_64, false, "opnat",
			`syscalls: unknown syscall "opnat" on x86_64; did you mean "openat"?`},
		{"unknown without suggestion", ArchARM64, false, "frobnicate",
			`syscalls: unknown syscall "frobnicate" on arm64; check the spelling against the kernel's syscall names`},
		{"other architecture only", ArchARM64, false, "epoll_ctl_old",
			`syscalls: syscall "epoll_ctl_old" does not exist on arm64, only on x86_64; remove it from this profile`},
		{"other architecture with compat", ArchARM64, true, "arch_prctl",
			`syscalls: syscall "arch_prctl" does not exist on arm64 or arm, only on x86_64, x86, x32; remove it from this profile`},
		{"compat only without compat", ArchX86_64, false, "mmap2",
			`syscalls: syscall "mmap2" exists only in the compat ABI x86 of x86_64; allow the compat ABIs to use it, or remove it`},
		{"arm compat only without compat", ArchARM64, false, "_llseek",
			`syscalls: syscall "_llseek" exists only in the compat ABI arm of arm64; allow the compat ABIs to use it, or remove it`},
		{"alias", ArchARM, false, "sync_file_range2",
			`syscalls: syscall "sync_file_range2" is an alias that libseccomp does not resolve on arm; use "arm_sync_file_range"`},
		{"empty name", ArchX86, false, "",
			`syscalls: syscall name is empty`},
		{"x86 socket operation", ArchX86, false, "socket",
			`syscalls: syscall "socket" cannot be allowed on x86: libseccomp 2.5.4 resolves it to a pseudo number, which LXC 5.0.2 skips; allow "socketcall" instead, which permits every socketcall operation`},
		{"x86 ipc operation", ArchX86, false, "semget",
			`syscalls: syscall "semget" cannot be allowed on x86: libseccomp 2.5.4 resolves it to a pseudo number, which LXC 5.0.2 skips; allow "ipc" instead, which permits every ipc operation`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Profile{DefaultAction: errnoDefault, Syscalls: []string{c.syscall}, AllowCompatABIs: c.compat}
			assertProblems(t, Validate(p, c.arch), c.want)
		})
	}
}

func TestValidateCompatNamesAllowed(t *testing.T) {
	cases := map[Arch][]string{
		ArchX86_64: {"mmap2", "_llseek", "socketcall", "futex_time64", "read", "socket", "semget"},
		ArchARM64:  {"mmap2", "_llseek", "futex_time64", "cacheflush", "set_tls", "read"},
	}
	for arch, names := range cases {
		p := Profile{DefaultAction: errnoDefault, Syscalls: names, AllowCompatABIs: true}
		if err := Validate(p, arch); err != nil {
			t.Errorf("Validate(%s) = %v; want nil", arch, err)
		}
	}
}

func TestValidateDuplicates(t *testing.T) {
	p := Profile{
		DefaultAction: errnoDefault,
		Syscalls:      []string{"read", "write", "read", "read", "openat"},
		Rules: []Rule{
			{Syscall: "openat", Action: Action{Kind: ActionErrno, Errno: 13}, Args: []ArgFilter{{Index: 2, Op: OpEq, Value: 1}}},
			{Syscall: "ioctl", Action: Action{Kind: ActionAllow}, Args: []ArgFilter{{Index: 1, Op: OpEq, Value: 5}}},
			{Syscall: "ioctl", Action: Action{Kind: ActionAllow}, Args: []ArgFilter{{Index: 1, Op: OpEq, Value: 5}}},
			{Syscall: "ioctl", Action: Action{Kind: ActionKill}, Args: []ArgFilter{{Index: 1, Op: OpEq, Value: 5}}},
			{Syscall: "fcntl", Action: Action{Kind: ActionAllow}, Args: []ArgFilter{{Index: 1, Op: OpEq, Value: 1}}},
			{Syscall: "fcntl", Action: Action{Kind: ActionTrap}},
		},
	}
	assertProblems(t, Validate(p, ArchX86_64),
		`syscalls: syscall "read" is listed more than once; remove the duplicates`,
		`syscalls: syscall "read" is listed more than once; remove the duplicates`,
		`rules[0].syscall: syscall "openat" is also in syscalls, which allows every call of it, so libseccomp would drop or reject this rule; remove one of them`,
		`rules[2]: the rule duplicates rules[1]; remove one of them`,
		`rules[3]: the rule matches the same arguments as rules[1] with another action, which libseccomp rejects (EEXIST); remove one of them`,
		`rules[5]: rules[4] is also for "fcntl", and next to a rule without argument filters libseccomp keeps only that one; merge them into one rule`,
	)
}

func TestValidateArgFilters(t *testing.T) {
	allow := Action{Kind: ActionAllow}
	cases := []struct {
		name string
		args []ArgFilter
		want []string
	}{
		{"index too high", []ArgFilter{{Index: 6, Op: OpEq}},
			[]string{`rules[0].args[0].index: argument index 6 is out of range; use 0 to 5`}},
		{"negative index", []ArgFilter{{Index: -1, Op: OpEq}},
			[]string{`rules[0].args[0].index: argument index -1 is out of range; use 0 to 5`}},
		{"mask without masked_eq", []ArgFilter{{Index: 1, Op: OpEq, Value: 1, Mask: 0xff}},
			[]string{`rules[0].args[0].mask: mask 0xff applies only to operator masked_eq; set op to masked_eq or remove the mask`}},
		{"masked_eq without mask", []ArgFilter{{Index: 1, Op: OpMaskedEq, Value: 0}},
			[]string{`rules[0].args[0].mask: operator masked_eq needs a mask; set mask to the bits to compare`}},
		{"value outside mask", []ArgFilter{{Index: 1, Op: OpMaskedEq, Value: 0x3, Mask: 0x1}},
			[]string{`rules[0].args[0].value: value 0x3 has bits outside mask 0x1, so the filter never matches; clear those bits or widen the mask`}},
		{"unknown operator", []ArgFilter{{Index: 0, Op: "like"}},
			[]string{`rules[0].args[0].op: unknown operator "like"; use eq, ne, lt, le, gt, ge or masked_eq`}},
		{"argument compared twice", []ArgFilter{{Index: 0, Op: OpGt, Value: 2}, {Index: 0, Op: OpLt, Value: 9}},
			[]string{`rules[0].args[1].index: argument 0 is already compared by args[0], and libseccomp rejects two comparisons of one argument in a rule (EINVAL); split them into separate rules`}},
		{"seven filters", []ArgFilter{
			{Index: 0, Op: OpEq}, {Index: 1, Op: OpEq}, {Index: 2, Op: OpEq}, {Index: 3, Op: OpEq},
			{Index: 4, Op: OpEq}, {Index: 5, Op: OpEq}, {Index: 5, Op: OpNe},
		}, []string{
			`rules[0].args: the rule has 7 argument filters, but LXC reads at most 6; keep one filter per argument`,
			`rules[0].args[6].index: argument 5 is already compared by args[5], and libseccomp rejects two comparisons of one argument in a rule (EINVAL); split them into separate rules`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Profile{DefaultAction: errnoDefault, Rules: []Rule{{Syscall: "ioctl", Action: allow, Args: c.args}}}
			assertProblems(t, Validate(p, ArchX86_64), c.want...)
		})
	}
}

func TestValidateActions(t *testing.T) {
	cases := []struct {
		name          string
		defaultAction Action
		ruleAction    Action
		want          string
	}{
		{"default allow", Action{Kind: ActionAllow}, Action{Kind: ActionKill},
			`default_action.action: default action allow would allow every syscall that is not listed; use errno, kill or trap`},
		{"default log", Action{Kind: "log"}, Action{Kind: ActionAllow},
			`default_action.action: action "log" is not supported because LXC 5.0.2's policy parser rejects it; use errno, kill, trap or allow`},
		{"default missing", Action{}, Action{Kind: ActionAllow},
			`default_action.action: action is missing; use errno, kill, trap or allow`},
		{"default errno too high", Action{Kind: ActionErrno, Errno: 4095}, Action{Kind: ActionAllow},
			`default_action.errno: errno 4095 is out of range; use 1 to 4094, or 0 for ENOSYS (38)`},
		{"rule log", errnoDefault, Action{Kind: "log"},
			`rules[0].action: action "log" is not supported because LXC 5.0.2's policy parser rejects it; use errno, kill, trap or allow`},
		{"rule kill_process", errnoDefault, Action{Kind: "kill_process"},
			`rules[0].action: action "kill_process" is not supported because LXC 5.0.2 reads it as kill, which kills only the calling thread; use kill`},
		{"rule notify", errnoDefault, Action{Kind: "notify"},
			`rules[0].action: unknown action "notify"; use errno, kill, trap or allow`},
		{"rule negative errno", errnoDefault, Action{Kind: ActionErrno, Errno: -1},
			`rules[0].errno: errno -1 is out of range; use 1 to 4094, or 0 for ENOSYS (38)`},
		{"errno on kill", errnoDefault, Action{Kind: ActionKill, Errno: 1},
			`rules[0].errno: errno 1 is set for action kill, but only action errno returns an errno; remove it`},
		{"rule equals default", Action{Kind: ActionErrno, Errno: 38}, Action{Kind: ActionErrno},
			`rules[0].action: action errno 38 is the default action, and libseccomp rejects such a rule (EACCES) when LXC loads the policy; remove the rule or change its action`},
		{"rule equals kill default", Action{Kind: ActionKill}, Action{Kind: ActionKill},
			`rules[0].action: action kill is the default action, and libseccomp rejects such a rule (EACCES) when LXC loads the policy; remove the rule or change its action`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Profile{DefaultAction: c.defaultAction, Rules: []Rule{{Syscall: "ptrace", Action: c.ruleAction}}}
			assertProblems(t, Validate(p, ArchARM64), c.want)
		})
	}
}

func TestValidate32BitArguments(t *testing.T) {
	wide := []ArgFilter{{Index: 0, Op: OpMaskedEq, Value: 1 << 32, Mask: 1<<33 - 1}}
	cases := []struct {
		name   string
		arch   Arch
		compat bool
		want   []string
	}{
		{"native arm", ArchARM, false, []string{
			`rules[0].args[0].value: value 0x100000000 does not fit the 32-bit arguments of arm, where libseccomp drops its upper 32 bits; use a value below 2^32`,
			`rules[0].args[0].mask: mask 0x1ffffffff does not fit the 32-bit arguments of arm, where libseccomp drops its upper 32 bits; use a mask below 2^32`,
		}},
		{"x86_64 with compat", ArchX86_64, true, []string{
			`rules[0].args[0].value: value 0x100000000 does not fit the 32-bit arguments of x86, where libseccomp drops its upper 32 bits; use a value below 2^32 or deny the compat ABIs`,
			`rules[0].args[0].mask: mask 0x1ffffffff does not fit the 32-bit arguments of x86, where libseccomp drops its upper 32 bits; use a mask below 2^32 or deny the compat ABIs`,
		}},
		{"x86_64 without compat", ArchX86_64, false, nil},
		{"arm64 without compat", ArchARM64, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Profile{
				DefaultAction:   errnoDefault,
				Rules:           []Rule{{Syscall: "ioctl", Action: Action{Kind: ActionAllow}, Args: wide}},
				AllowCompatABIs: c.compat,
			}
			assertProblems(t, Validate(p, c.arch), c.want...)
		})
	}
}

func TestValidateProblemLocation(t *testing.T) {
	p := Profile{
		DefaultAction: errnoDefault,
		Rules: []Rule{
			{Syscall: "read", Action: Action{Kind: ActionAllow}},
			{Syscall: "ioctl", Action: Action{Kind: ActionAllow}, Args: []ArgFilter{{Index: 0, Op: OpEq}, {Index: 1, Op: OpEq, Mask: 4}}},
		},
	}
	err := Validate(p, ArchX86_64)
	var validationErr *ValidationError
	if !errors.As(err, &validationErr) {
		t.Fatalf("Validate error %v is not a *ValidationError", err)
	}
	if validationErr.Arch != ArchX86_64 {
		t.Errorf("Arch = %q; want x86_64", validationErr.Arch)
	}
	want := Problem{Field: "rules", Rule: 1, Arg: 1, Attribute: "mask", Syscall: "ioctl",
		Message: "mask 0x4 applies only to operator masked_eq; set op to masked_eq or remove the mask"}
	if !slices.Equal(validationErr.Problems, []Problem{want}) {
		t.Errorf("Problems = %+v; want [%+v]", validationErr.Problems, want)
	}
	if !strings.HasPrefix(err.Error(), "invalid seccomp profile for x86_64: rules[1].args[1].mask: mask 0x4") {
		t.Errorf("Error() = %q; want it to start with the arch and the problem's path", err)
	}
}

func TestValidateRejectsArch(t *testing.T) {
	p := Profile{DefaultAction: errnoDefault, Syscalls: []string{"read"}}
	cases := map[Arch]string{
		"mips":  `validate seccomp profile: unsupported architecture "mips": use one of x86_64, x86, arm64, arm`,
		ArchX32: `validate seccomp profile: architecture "x32" is a compat ABI, not a native one: use x86_64, whose profile covers it`,
	}
	for arch, want := range cases {
		err := Validate(p, arch)
		if err == nil || err.Error() != want {
			t.Errorf("Validate(%q) = %v; want %q", arch, err, want)
		}
		var validationErr *ValidationError
		if errors.As(err, &validationErr) {
			t.Errorf("Validate(%q) returned a *ValidationError; want a plain error", arch)
		}
	}
}

// assertProblems checks that err lists exactly the wanted problems, in order.
func assertProblems(t *testing.T, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Validate = %v; want nil", err)
		}
		return
	}
	var validationErr *ValidationError
	if !errors.As(err, &validationErr) {
		t.Fatalf("Validate = %v; want a *ValidationError", err)
	}
	got := make([]string, len(validationErr.Problems))
	for i, p := range validationErr.Problems {
		got[i] = p.String()
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
