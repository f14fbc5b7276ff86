//go:build linux

package record

import (
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tracedArg0 is argv[0] of the helper when the tracer re-executes it as its traced child. The
// child installs the stop-at-every-syscall filter and executes argv[1:]. A filter can only be
// installed from inside the process, and Go's os/exec cannot run code between fork and exec.
const tracedArg0 = "iotfleet-helper-traced"

func init() {
	if len(os.Args) > 1 && os.Args[0] == tracedArg0 {
		execTraced(os.Args[1:])
	}
}

// execTraced installs traceFilter on every thread of this process and executes argv with the
// same environment. It never returns: a failure exits with 127, as a shell does for a command
// it could not run, and the tracer reports the message from standard error.
func execTraced(argv []string) {
	runtime.LockOSThread()
	if err := installTraceFilter(); err != nil {
		fail("install seccomp filter: " + err.Error())
	}
	err := unix.Exec(argv[0], argv, os.Environ())
	fail("exec " + argv[0] + ": " + err.Error())
}

// installTraceFilter loads a one-instruction seccomp filter that returns SECCOMP_RET_TRACE for
// every syscall, so the tracer sees each syscall entry as a PTRACE_EVENT_SECCOMP stop and no
// syscall exit. TSYNC applies it to the Go runtime's other threads as well. Without
// no_new_privs the kernel requires CAP_SYS_ADMIN, which the helper has as root; setting
// no_new_privs here instead would change the container that LXC starts.
func installTraceFilter() error {
	program := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_TRACE}}
	fprog := unix.SockFprog{Len: uint16(len(program)), Filter: &program[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(program)
	if errno != 0 {
		return errno
	}
	return nil
}

func fail(message string) {
	_, _ = os.Stderr.WriteString("iotfleet-helper: " + message + "\n")
	os.Exit(127)
}
