package idmap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
)

// subIDFiles holds the subuid and subgid files as loaded under their lock.
type subIDFiles struct {
	paths   [2]string
	content [2]string
	entries [2][]SubIDEntry
}

func loadSubIDFiles(uidPath, gidPath string) (*subIDFiles, error) {
	files := &subIDFiles{paths: [2]string{uidPath, gidPath}}
	for i, path := range files.paths {
		data, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		entries, err := ParseSubID(string(data))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w; fix the file so the helper can tell which IDs are in use",
				path, err)
		}
		files.content[i] = string(data)
		files.entries[i] = entries
	}
	return files, nil
}

// foreign returns the ranges of both files that are not the root lines of pool's own
// allocations: ranges of other users, and of other pools that share the files.
func (f *subIDFiles) foreign(pool *Pool) []Range {
	own := make(map[SubIDEntry]bool, len(pool.Allocations))
	for _, allocation := range pool.Allocations {
		own[entryFor(allocation.Range)] = true
	}
	var ranges []Range
	for _, entries := range f.entries {
		for _, entry := range entries {
			if !own[entry] {
				ranges = append(ranges, entry.Range())
			}
		}
	}
	return ranges
}

// add writes the root line of r to both files unless it is there already.
func (f *subIDFiles) add(r Range) error {
	return f.update(func(content string) string { return AddSubID(content, entryFor(r)) })
}

// remove deletes the root line of r from both files.
func (f *subIDFiles) remove(r Range) error {
	return f.update(func(content string) string { return RemoveSubID(content, entryFor(r)) })
}

// update writes the subgid file before the subuid file. The subuid file is the lock, and its
// rename lets the next waiter in, so it has to come last. When a write fails, the file written
// before it gets its old content back, so the two files never disagree.
func (f *subIDFiles) update(change func(string) string) error {
	written := f.content
	for i := len(f.paths) - 1; i >= 0; i-- {
		updated := change(f.content[i])
		if updated == f.content[i] {
			continue
		}
		if err := writeSubIDFile(f.paths[i], updated); err != nil {
			return errors.Join(err, f.restore(written))
		}
		written[i] = updated
	}
	f.content = written
	return nil
}

// restore writes the loaded content back to each file that written shows as changed.
func (f *subIDFiles) restore(written [2]string) error {
	var errs []error
	for i, path := range f.paths {
		if written[i] == f.content[i] {
			continue
		}
		if err := atomicfile.WriteFile(path, []byte(f.content[i]), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", path, err))
		}
	}
	return errors.Join(errs...)
}

// writeSubIDFile replaces path with content through a rename.
func writeSubIDFile(path, content string) error {
	err := atomicfile.WriteFile(path, []byte(content), 0o644)
	if errors.Is(err, syscall.EBUSY) {
		// Rewriting in place instead would race with newuidmap and newgidmap, which read the
		// file without this lock.
		return fmt.Errorf("update %s: it is a mount point, which cannot be replaced atomically; "+
			"make it a regular file: %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	return nil
}

func entryFor(r Range) SubIDEntry {
	return SubIDEntry{Owner: subIDOwner, Start: r.Start, Count: r.Size}
}
