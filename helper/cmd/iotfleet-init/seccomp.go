package main

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/initspec"
)

// loadSeccompFilter installs program as a seccomp filter on every thread of the process, so the
// workload that the init execs next inherits it. The kernel runs all loaded filters and applies
// the most restrictive result, so this filter can only narrow the policy that LXC loaded.
func loadSeccompFilter(program []initspec.Instruction) error {
	runtime.LockOSThread()

	filters := make([]unix.SockFilter, len(program))
	for i, instruction := range program {
		filters[i] = unix.SockFilter{Code: instruction.Code, Jt: instruction.Jt, Jf: instruction.Jf, K: instruction.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filters)), Filter: &filters[0]}

	// Without CAP_SYS_ADMIN the kernel accepts a filter only under no_new_privs.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	// TSYNC applies the filter to the Go runtime's other threads too. On failure the kernel
	// returns the ID of a thread it could not synchronise instead of an error.
	thread, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("load seccomp filter: %w", errno)
	}
	if thread != 0 {
		return fmt.Errorf("load seccomp filter: thread %d could not be synchronised", thread)
	}
	return nil
}
