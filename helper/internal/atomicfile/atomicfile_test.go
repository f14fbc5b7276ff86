package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileCreates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "record.json")

	if err := WriteFile(path, []byte(`{"a":1}`), 0o640); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}

	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if !bytes.Equal(got, []byte(`{"a":1}`)) {
		t.Errorf("content = %q, want %q", got, `{"a":1}`)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o640 {
		t.Errorf("mode = %v, want %v", mode, fs.FileMode(0o640))
	}
	assertOnlyEntries(t, dir, "record.json")
}

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "record.json")
	if err := os.WriteFile(path, []byte("old content that is longer"), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := WriteFile(path, []byte("new"), 0o600); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}

	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if string(got) != "new" {
		t.Errorf("content = %q, want %q", got, "new")
	}
	assertOnlyEntries(t, dir, "record.json")
}

func TestWriteFileMissingFolder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "record.json")

	err := WriteFile(path, []byte("x"), 0o600)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("WriteFile error = %v, want one wrapping fs.ErrNotExist", err)
	}
	assertOnlyEntries(t, dir)
}

func TestWriteFileRenameFailureCleansUp(t *testing.T) {
	dir := t.TempDir()
	// Renaming a regular file over a non-empty folder fails, after the temporary file exists.
	path := filepath.Join(dir, "busy")
	if err := os.MkdirAll(filepath.Join(path, "child"), 0o700); err != nil {
		t.Fatal(err)
	}

	if err := WriteFile(path, []byte("x"), 0o600); err == nil {
		t.Fatal("WriteFile over a non-empty folder succeeded, want an error")
	}

	assertOnlyEntries(t, dir, "busy")
	if _, err := os.Stat(filepath.Join(path, "child")); err != nil {
		t.Errorf("folder content changed: %v", err)
	}
}

func TestIsTemp(t *testing.T) {
	dir := t.TempDir()
	temp, err := os.CreateTemp(dir, tempPrefix+"record.json-*")
	if err != nil {
		t.Fatal(err)
	}
	_ = temp.Close()

	if name := filepath.Base(temp.Name()); !IsTemp(name) {
		t.Errorf("IsTemp(%q) = false, want true", name)
	}
	for _, name := range []string{"record.json", "tmp-record", ".hidden"} {
		if IsTemp(name) {
			t.Errorf("IsTemp(%q) = true, want false", name)
		}
	}
}

// assertOnlyEntries fails unless dir holds exactly the named entries.
func assertOnlyEntries(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("list %s: %v", dir, err)
	}
	var got []string
	for _, entry := range entries {
		got = append(got, entry.Name())
	}
	if len(got) != len(want) {
		t.Fatalf("entries of %s = %q, want %q", dir, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d of %s = %q, want %q", i, dir, got[i], want[i])
		}
	}
}
