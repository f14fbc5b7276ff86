package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

type syscallNumber struct {
	name   string
	number int64
}

// alias is a macro that the headers define as another syscall's macro, such as arm's
// __NR_sync_file_range2 → __NR_arm_sync_file_range.
type alias struct {
	name   string
	target string
}

type table struct {
	syscalls []syscallNumber
	aliases  []alias
	headers  []headerSource
}

// syscallMacro matches a syscall number macro in `gcc -E -dM` output. Lowercase names only:
// uppercase ones such as __NR_SYSCALL_BASE and __ARM_NR_BASE are bases, not syscalls.
var syscallMacro = regexp.MustCompile(`^#define (__NR_|__ARM_NR_)([a-z0-9_]+) (.+)$`)

// notSyscalls are lowercase __NR_ macros that count or delimit syscalls instead of naming one.
var notSyscalls = map[string]bool{
	"syscalls":              true, // number of syscalls in asm-generic
	"arch_specific_syscall": true, // first number of asm-generic's per-arch range
}

func extractTable(t target) (table, error) {
	macros, err := runCompiler(t, "#include <asm/unistd.h>\n", "-E", "-dM")
	if err != nil {
		return table{}, err
	}
	macroNames, aliases, err := selectSyscalls(macros)
	if err != nil {
		return table{}, err
	}
	syscalls, err := evaluateMacros(t, macroNames)
	if err != nil {
		return table{}, err
	}
	headers, err := findHeaderSources(t)
	if err != nil {
		return table{}, err
	}
	return table{syscalls: syscalls, aliases: aliases, headers: headers}, nil
}

// selectSyscalls returns the syscall name of each macro (keyed by macro name) and the aliases
// among them, which are left out of the table because libseccomp resolves only the target name.
func selectSyscalls(macros []byte) (map[string]string, []alias, error) {
	names := make(map[string]string)
	values := make(map[string]string)
	scanner := bufio.NewScanner(bytes.NewReader(macros))
	for scanner.Scan() {
		match := syscallMacro.FindStringSubmatch(scanner.Text())
		if match == nil || notSyscalls[match[2]] {
			continue
		}
		macro := match[1] + match[2]
		names[macro] = match[2]
		values[macro] = strings.TrimSpace(match[3])
	}
	if err := scanner.Err(); err != nil {
		return nil, nil, fmt.Errorf("read macros: %w", err)
	}

	var aliases []alias
	for macro, value := range values {
		if target, ok := names[value]; ok {
			aliases = append(aliases, alias{name: names[macro], target: target})
			delete(names, macro)
		}
	}
	sort.Slice(aliases, func(i, j int) bool { return aliases[i].name < aliases[j].name })

	seen := make(map[string]string)
	for macro, name := range names {
		if other, ok := seen[name]; ok {
			return nil, nil, fmt.Errorf("syscall name %q is defined by both %s and %s", name, other, macro)
		}
		seen[name] = macro
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("no __NR_ macros found: check that the UAPI headers are installed")
	}
	return names, aliases, nil
}

// evaluateMacros lets the compiler evaluate each macro: it compiles one int constant per macro
// and reads the values back from the assembly, so expressions such as
// (__X32_SYSCALL_BIT + 0) or __NR3264_fcntl need no evaluator here.
func evaluateMacros(t target, macroNames map[string]string) ([]syscallNumber, error) {
	var program strings.Builder
	program.WriteString("#include <asm/unistd.h>\n")
	labels := make(map[string]string, len(macroNames))
	for macro, name := range macroNames {
		label := "iotf" + strings.ToLower(macro)
		labels[label] = name
		fmt.Fprintf(&program, "const int %s = %s;\n", label, macro)
	}

	assembly, err := runCompiler(t, program.String(), "-S", "-o", "-")
	if err != nil {
		return nil, err
	}
	values, err := parseConstants(assembly)
	if err != nil {
		return nil, err
	}

	syscalls := make([]syscallNumber, 0, len(labels))
	for label, name := range labels {
		value, ok := values[label]
		if !ok {
			return nil, fmt.Errorf("no value for %s in the compiler's assembly output", label)
		}
		syscalls = append(syscalls, syscallNumber{name: name, number: value})
	}
	sort.Slice(syscalls, func(i, j int) bool {
		if syscalls[i].number != syscalls[j].number {
			return syscalls[i].number < syscalls[j].number
		}
		return syscalls[i].name < syscalls[j].name
	})
	return syscalls, nil
}

// parseConstants reads `label:` lines followed by the data directive that gcc emits for an
// initialized int: `.long N` on x86, `.word N` on arm and arm64, and `.zero 4` or `.space 4`
// for 0.
func parseConstants(assembly []byte) (map[string]int64, error) {
	values := make(map[string]int64)
	lines := strings.Split(string(assembly), "\n")
	for i := 0; i+1 < len(lines); i++ {
		label, ok := strings.CutSuffix(lines[i], ":")
		if !ok || !strings.HasPrefix(label, "iotf__") {
			continue
		}
		value, err := parseIntDirective(lines[i+1])
		if err != nil {
			return nil, fmt.Errorf("parse value of %s: %w", label, err)
		}
		values[label] = value
	}
	return values, nil
}

func parseIntDirective(line string) (int64, error) {
	fields := strings.Fields(line)
	switch {
	case len(fields) != 2:
	case fields[0] == ".long" || fields[0] == ".word":
		return strconv.ParseInt(fields[1], 0, 64)
	case (fields[0] == ".zero" || fields[0] == ".space") && fields[1] == "4":
		return 0, nil
	}
	return 0, fmt.Errorf("unexpected data directive %q", line)
}

func runCompiler(t target, program string, args ...string) ([]byte, error) {
	path, err := exec.LookPath(t.compiler)
	if err != nil {
		return nil, fmt.Errorf("find compiler: %w (install gcc, gcc-aarch64-linux-gnu and "+
			"gcc-arm-linux-gnueabihf)", err)
	}
	cmdArgs := append(append([]string{}, t.flags...), args...)
	cmdArgs = append(cmdArgs, "-x", "c", "-")
	cmd := exec.Command(path, cmdArgs...)
	cmd.Stdin = strings.NewReader(program)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("run %s %s: %w: %s",
			t.compiler, strings.Join(cmdArgs, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
