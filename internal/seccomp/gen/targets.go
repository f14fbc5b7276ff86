package main

// target is one syscall ABI and the compiler invocation that selects its UAPI headers.
type target struct {
	// arch is the seccomp package's Arch value, which is also LXC's section name.
	arch string
	// goName is the identifier suffix of the generated variables.
	goName string
	// compiler and flags preprocess and compile for this ABI. The x86 ABIs share the amd64
	// headers, and asm/unistd.h picks unistd_32.h, unistd_x32.h or unistd_64.h from the
	// macros that -m32, -mx32 and -m64 predefine.
	compiler string
	flags    []string
}

// fileName ends in _gen.go because a name ending in _arm.go or _arm64.go would be a GOARCH
// build constraint.
func (t target) fileName() string {
	return "tables_" + t.arch + "_gen.go"
}

const amd64Compiler = "x86_64-linux-gnu-gcc"

// amd64Headers is where linux-libc-dev:amd64 installs asm/. The native compiler searches it
// only for -m64, so the 32-bit and x32 runs name it explicitly.
const amd64Headers = "/usr/include/x86_64-linux-gnu"

var targets = []target{
	{arch: "x86_64", goName: "X86_64", compiler: amd64Compiler, flags: []string{"-m64", "-isystem", amd64Headers}},
	{arch: "x86", goName: "X86", compiler: amd64Compiler, flags: []string{"-m32", "-isystem", amd64Headers}},
	{arch: "x32", goName: "X32", compiler: amd64Compiler, flags: []string{"-mx32", "-isystem", amd64Headers}},
	{arch: "arm64", goName: "ARM64", compiler: "aarch64-linux-gnu-gcc"},
	// The EABI is what arm-linux-gnueabihf-gcc selects: it predefines __ARM_EABI__.
	{arch: "arm", goName: "ARM", compiler: "arm-linux-gnueabihf-gcc"},
}
