//go:build linux

package record

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// traceOptions follow every process and thread of the workload, report exec and seccomp stops,
// and make the kernel kill every tracee when the tracer's thread exits, so a helper that dies
// leaves no workload running untraced.
const traceOptions = unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACECLONE |
	unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_TRACESECCOMP | unix.PTRACE_O_EXITKILL

// syscallInfo is struct ptrace_syscall_info from linux/ptrace.h (Linux 5.3) with the seccomp
// member of its union, which has the largest layout. x/sys/unix has the request number but no
// wrapper.
type syscallInfo struct {
	Op                 uint8
	_                  [3]uint8
	Arch               uint32
	InstructionPointer uint64
	StackPointer       uint64
	Number             uint64
	Args               [6]uint64
	RetData            uint32
	_                  uint32
}

// getSyscallInfo returns the ABI and number of the syscall that stopped pid.
func getSyscallInfo(pid int) (Call, error) {
	var info syscallInfo
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GET_SYSCALL_INFO, uintptr(pid),
		unsafe.Sizeof(info), uintptr(unsafe.Pointer(&info)), 0, 0)
	if errno != 0 {
		return Call{}, fmt.Errorf("read syscall of process %d: %w", pid, errno)
	}
	switch info.Op {
	case unix.PTRACE_SYSCALL_INFO_SECCOMP, unix.PTRACE_SYSCALL_INFO_ENTRY:
		return Call{AuditArch: info.Arch, Number: info.Number}, nil
	}
	return Call{}, fmt.Errorf("read syscall of process %d: stop is not a syscall entry (op %d)", pid, info.Op)
}

// resume restarts a stopped tracee and delivers signal (0 for none). A tracee that was killed
// meanwhile returns ESRCH, which the tracer learns from wait4 anyway.
func resume(pid int, signal unix.Signal) {
	_ = unix.PtraceCont(pid, int(signal))
}

// isGroupStop reports whether a stop with a stop signal is a group-stop rather than a
// signal-delivery-stop: only the latter has siginfo.
func isGroupStop(pid int) bool {
	var info unix.Siginfo
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(pid), 0,
		uintptr(unsafe.Pointer(&info)), 0, 0)
	return errno == unix.EINVAL
}
