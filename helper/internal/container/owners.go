package container

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// shiftOwners moves the owners of the entries below dir whose IDs lie in the old range by
// newStart-oldStart, for a container that got a new range. dir itself belongs to host root.
func shiftOwners(dir string, oldStart, newStart, count uint64) error {
	shift := func(id uint32) (int, bool) {
		if uint64(id) < oldStart || uint64(id) >= oldStart+count {
			return int(id), false
		}
		return int(uint64(id) - oldStart + newStart), true
	}
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		uid, uidShifted := shift(st.Uid)
		gid, gidShifted := shift(st.Gid)
		if !uidShifted && !gidShifted {
			return nil
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			return err
		}
		// chown(2) clears setuid and setgid bits of files; put them back.
		if info.Mode().IsRegular() && info.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			return os.Chmod(path, info.Mode())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("move file owners to the new ID range: %w", err)
	}
	return nil
}

// logTailLines bounds what logTail returns.
const logTailLines = 5

// logTail returns the last error lines that LXC logged for the container after offset bytes,
// as "; lxc log: ..." for an error message, or "" when there are none.
func logTail(path string, offset int64) string {
	data, err := os.ReadFile(path)
	if err != nil || offset > int64(len(data)) {
		return ""
	}
	data = data[offset:]
	var errorsFound []string
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		line := scanner.Text()
		if strings.Contains(line, " ERROR ") {
			if i := strings.Index(line, " - "); i >= 0 {
				line = line[i+3:]
			}
			errorsFound = append(errorsFound, line)
		}
	}
	if len(errorsFound) == 0 {
		return ""
	}
	if len(errorsFound) > logTailLines {
		errorsFound = errorsFound[len(errorsFound)-logTailLines:]
	}
	return "; lxc log: " + strings.Join(errorsFound, "; ")
}

// logSize returns the size of the log at path, 0 when it does not exist.
func logSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}
