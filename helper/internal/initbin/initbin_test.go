package initbin

import (
	"debug/elf"
	"os"
	"path/filepath"
	"testing"
)

func TestInstall(t *testing.T) {
	if _, err := Binary(); err != nil {
		t.Skipf("no embedded init in this build: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "bin")
	path, sum, err := Install(dir)
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	if len(sum) != 64 {
		t.Errorf("sum = %q, want 64 hex digits", sum)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o755 {
		t.Fatalf("installed init: %v, %v; want mode 0755", info, err)
	}
	file, err := elf.Open(path)
	if err != nil {
		t.Fatalf("installed init is not an ELF file: %v", err)
	}
	defer file.Close()
	for _, prog := range file.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Error("installed init is dynamically linked")
		}
	}

	// A second install leaves the same file, so running containers keep their inode.
	before, _ := os.Stat(path)
	if _, _, err := Install(dir); err != nil {
		t.Fatalf("second Install: %v", err)
	}
	after, _ := os.Stat(path)
	if !os.SameFile(before, after) {
		t.Error("second Install replaced an identical init")
	}
}
