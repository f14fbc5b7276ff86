package seccomp

import (
	"sort"
	"sync"
)

//go:generate go run ./gen

// syscallEntry is one row of a generated table.
type syscallEntry struct {
	name   string
	number int
}

type syscallTable struct {
	byName   map[string]int
	byNumber map[int]string
	names    []string
	aliases  map[string]string
}

var (
	tablesOnce sync.Once
	tables     map[Arch]*syscallTable
)

func loadTables() map[Arch]*syscallTable {
	tablesOnce.Do(func() {
		tables = map[Arch]*syscallTable{
			ArchX86_64: newSyscallTable(syscallsX86_64, aliasesX86_64),
			ArchX86:    newSyscallTable(syscallsX86, aliasesX86),
			ArchX32:    newSyscallTable(syscallsX32, aliasesX32),
			ArchARM64:  newSyscallTable(syscallsARM64, aliasesARM64),
			ArchARM:    newSyscallTable(syscallsARM, aliasesARM),
		}
	})
	return tables
}

// newSyscallTable indexes entries both ways. The generator leaves aliases out of entries, so
// every name and every number occurs once.
func newSyscallTable(entries []syscallEntry, aliases map[string]string) *syscallTable {
	t := &syscallTable{
		byName:   make(map[string]int, len(entries)),
		byNumber: make(map[int]string, len(entries)),
		names:    make([]string, 0, len(entries)),
		aliases:  aliases,
	}
	for _, e := range entries {
		t.byName[e.name] = e.number
		t.byNumber[e.number] = e.name
		t.names = append(t.names, e.name)
	}
	sort.Strings(t.names)
	return t
}

func table(arch Arch) *syscallTable {
	return loadTables()[arch]
}

// Lookup returns the number of the named syscall on arch, as the kernel receives it, so x32
// numbers include the x32 bit (0x40000000). It reports false for an unknown arch or name.
func Lookup(arch Arch, name string) (int, bool) {
	t := table(arch)
	if t == nil {
		return 0, false
	}
	nr, ok := t.byName[name]
	return nr, ok
}

// Name returns the name of syscall number nr on arch.
func Name(arch Arch, nr int) (string, bool) {
	t := table(arch)
	if t == nil {
		return "", false
	}
	name, ok := t.byNumber[nr]
	return name, ok
}

// Names returns the syscall names of arch in lexical order, or nil for an unknown arch.
func Names(arch Arch) []string {
	t := table(arch)
	if t == nil {
		return nil
	}
	return append([]string(nil), t.names...)
}

// ArchesWith returns the ABIs, in the order of Arches, whose table contains name.
func ArchesWith(name string) []Arch {
	var found []Arch
	for _, arch := range Arches() {
		if _, ok := Lookup(arch, name); ok {
			found = append(found, arch)
		}
	}
	return found
}

// aliasTarget returns the syscall that name stands for when the kernel headers of arch define
// it as an alias, such as arm's sync_file_range2 for arm_sync_file_range. libseccomp 2.5.4
// resolves only the target name, so the tables leave such aliases out.
func aliasTarget(arch Arch, name string) (string, bool) {
	t := table(arch)
	if t == nil {
		return "", false
	}
	target, ok := t.aliases[name]
	return target, ok
}
