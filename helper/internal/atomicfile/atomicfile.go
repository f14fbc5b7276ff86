// Package atomicfile replaces files so that a reader, or the file system after a power loss,
// finds either the old content or the new content, never a mix.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix starts the name of every temporary file, so that folder listings can skip them.
const tempPrefix = ".tmp-"

// IsTemp reports whether name is the base name of a temporary file that WriteFile creates.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, tempPrefix)
}

// WriteFile writes data to a temporary file in the folder of path, syncs it to disk, gives it
// mode perm and renames it over path. It then syncs the folder so that the rename persists.
// The folder must exist. An error before the rename leaves path as it was and removes the
// temporary file. An error syncing the folder comes after path already has the new content.
func WriteFile(path string, data []byte, perm fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}

	temp, err := os.CreateTemp(dir, tempPrefix+base+"-*")
	if err != nil {
		return fmt.Errorf("write %s: create temporary file: %w", path, err)
	}
	renamed := false
	defer func() {
		if err != nil && !renamed {
			_ = temp.Close()
			_ = os.Remove(temp.Name())
		}
	}()

	if _, err := temp.Write(data); err != nil {
		return fmt.Errorf("write %s: write temporary file: %w", path, err)
	}
	// CreateTemp creates the file with mode 0600; Chmod is not subject to the umask.
	if err := temp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: set mode %v: %w", path, perm, err)
	}
	if err := temp.Sync(); err != nil {
		return fmt.Errorf("write %s: sync temporary file: %w", path, err)
	}
	if err := temp.Close(); err != nil {
		return fmt.Errorf("write %s: close temporary file: %w", path, err)
	}
	if err := os.Rename(temp.Name(), path); err != nil {
		return fmt.Errorf("write %s: rename temporary file: %w", path, err)
	}
	renamed = true
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// SyncDir flushes the entries of folder dir to disk, so that files created, renamed or removed in
// it persist after a power loss.
func SyncDir(dir string) error {
	folder, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	syncErr := folder.Sync()
	closeErr := folder.Close()
	if err := errors.Join(syncErr, closeErr); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
