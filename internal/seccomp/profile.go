package seccomp

// Profile is a default-deny syscall policy for one container: the syscalls it allows, the
// rules that match on arguments, and what every other syscall gets.
type Profile struct {
	// DefaultAction applies to every syscall that neither Syscalls nor Rules mention. It must
	// deny: errno, kill or trap.
	DefaultAction Action
	// Syscalls are allowed unconditionally. Each name may appear once, and not also in Rules.
	Syscalls []string
	// Rules give one syscall an action, optionally only when its arguments match.
	Rules []Rule
	// AllowCompatABIs permits the 32-bit compat ABIs of the native architecture (x86 and x32 on
	// x86_64, arm on arm64), so Syscalls and Rules may name compat-only syscalls such as mmap2.
	// When false, the caller loads CompatDenyFilter next to the rendered policy. In the x86
	// compat ABI, LXC skips the direct socket and IPC syscalls (see x86Multiplexed), so 32-bit
	// x86 callers reach those only through socketcall and ipc.
	AllowCompatABIs bool
}

// ActionKind is the kernel's response to a matching syscall. Validate rejects kinds other than
// the constants below, such as "log" or "kill_process", because LXC's policy format cannot
// express them.
type ActionKind string

const (
	// ActionErrno fails the syscall with Action.Errno.
	ActionErrno ActionKind = "errno"
	// ActionKill kills the calling thread (SECCOMP_RET_KILL_THREAD), which is what LXC's
	// "kill" means.
	ActionKill ActionKind = "kill"
	// ActionTrap sends SIGSYS to the calling thread.
	ActionTrap ActionKind = "trap"
	// ActionAllow runs the syscall. It is valid only in a Rule.
	ActionAllow ActionKind = "allow"
)

// DefaultErrno is ENOSYS (38 on every supported ABI). glibc falls back to an older syscall only
// when a newer one fails with ENOSYS: pthread_create retries clone3 as clone, and faccessat2,
// statx, openat2, close_range and rseq have similar fallbacks, while EPERM makes them fail.
const DefaultErrno = 38

// maxErrno is the largest errno libseccomp 2.5.4 accepts in an action: it rejects 4095
// (MAX_ERRNO in linux/err.h) and above with EINVAL, so LXC would fail to load the policy.
const maxErrno = 4094

// Action is a seccomp action with its errno value.
type Action struct {
	Kind ActionKind
	// Errno is the error number of an ActionErrno action, from 1 to 4094. Zero selects
	// DefaultErrno. It must be zero for the other kinds.
	Errno int
}

// errnoValue returns the errno the action returns, with zero replaced by DefaultErrno.
func (a Action) errnoValue() int {
	if a.Errno == 0 {
		return DefaultErrno
	}
	return a.Errno
}

// equal compares actions as libseccomp does, after the errno default is applied.
func (a Action) equal(b Action) bool {
	if a.Kind != b.Kind {
		return false
	}
	return a.Kind != ActionErrno || a.errnoValue() == b.errnoValue()
}

// Rule gives one syscall an action. With Args, the action applies only when every filter
// matches; the syscall otherwise gets the profile's DefaultAction.
type Rule struct {
	Syscall string
	Action  Action
	// Args holds at most 6 filters, each on a different argument index, because LXC reads at
	// most 6 and libseccomp rejects two comparisons of one argument in a rule.
	Args []ArgFilter
}

// ArgFilter compares one syscall argument with a value.
type ArgFilter struct {
	// Index is the argument position, from 0 to 5.
	Index int
	Op    Op
	Value uint64
	// Mask is ANDed with the argument before the comparison. It is required for OpMaskedEq
	// and must be zero for the other operators.
	Mask uint64
}

// Op is an argument comparison operator.
type Op string

// The operators that libseccomp and LXC support.
const (
	OpEq       Op = "eq"
	OpNe       Op = "ne"
	OpLt       Op = "lt"
	OpLe       Op = "le"
	OpGt       Op = "gt"
	OpGe       Op = "ge"
	OpMaskedEq Op = "masked_eq"
)

// lxcOperators maps each Op to the operator name that LXC's policy parser reads.
var lxcOperators = map[Op]string{
	OpEq:       "SCMP_CMP_EQ",
	OpNe:       "SCMP_CMP_NE",
	OpLt:       "SCMP_CMP_LT",
	OpLe:       "SCMP_CMP_LE",
	OpGt:       "SCMP_CMP_GT",
	OpGe:       "SCMP_CMP_GE",
	OpMaskedEq: "SCMP_CMP_MASKED_EQ",
}

// maxArgFilters is the number of syscall arguments, and of filters LXC reads in one rule.
const maxArgFilters = 6
