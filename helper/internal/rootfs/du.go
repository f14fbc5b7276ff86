package rootfs

import (
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
)

// DiskUsage returns the bytes that the tree at root occupies on disk, as du(1) counts them:
// allocated blocks, each hard-linked inode once, without following symbolic links. A missing
// root uses no space.
func DiskUsage(root string) (int64, error) {
	seen := map[[2]uint64]bool{}
	var total int64
	err := filepath.WalkDir(root, func(_ string, entry fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		key := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
		if seen[key] {
			return nil
		}
		seen[key] = true
		total += int64(st.Blocks) * 512
		return nil
	})
	return total, err
}
