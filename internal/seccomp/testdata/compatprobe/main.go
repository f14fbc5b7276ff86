//go:build linux && amd64

// Command compatprobe makes the i386 getpid syscall from an x86_64 process through int 0x80,
// which the kernel runs in the x86 compat ABI, so seccomp filters get AUDIT_ARCH_I386. It prints
// "compat getpid: ok" or "compat getpid: errno N" and exits 0 or 1.
//
// With -deny it first loads seccomp.CompatDenyFilter with TSYNC, as a container's init must
// when its profile denies the compat ABIs, and checks that a native syscall still works.
//
// The acceptance tests build it and run it inside containers to show that an LXC policy
// alone lets compat calls of allowed names through.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// i386Getpid is __NR_getpid in arch/x86/entry/syscalls/syscall_32.tbl.
const i386Getpid = 20

// int80 runs syscall nr of the i386 ABI and returns the kernel's result; see int80_amd64.s.
func int80(nr uintptr) uintptr

func main() {
	deny := flag.Bool("deny", false, "load the compat deny filter first")
	flag.Parse()
	if *deny {
		if err := loadCompatDenyFilter(); err != nil {
			fmt.Fprintln(os.Stderr, "compatprobe:", err)
			os.Exit(2)
		}
		if unix.Getpid() <= 0 {
			fmt.Fprintln(os.Stderr, "compatprobe: native getpid failed after loading the filter")
			os.Exit(2)
		}
	}

	// The kernel returns a negative errno in eax.
	result := int32(int80(i386Getpid))
	if result < 0 {
		fmt.Printf("compat getpid: errno %d\n", -result)
		os.Exit(1)
	}
	fmt.Println("compat getpid: ok")
}

// loadCompatDenyFilter installs the filter on every thread of the process. Go runs on several
// threads, so without TSYNC the others would stay unfiltered.
func loadCompatDenyFilter() error {
	program, err := seccomp.CompatDenyFilter(seccomp.ArchX86_64, seccomp.Action{Kind: seccomp.ActionErrno})
	if err != nil {
		return err
	}
	filters := make([]unix.SockFilter, len(program))
	for i, ins := range program {
		filters[i] = unix.SockFilter{Code: ins.Code, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filters)), Filter: &filters[0]}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("load compat deny filter: %w", errno)
	}
	return nil
}
