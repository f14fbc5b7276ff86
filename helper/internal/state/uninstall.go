package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// ownEntries are the entries that the helper and the provider create in a state folder.
// Uninstall removes a folder only when it holds nothing else (temporary files that an
// interrupted atomicfile.WriteFile left behind aside), so a state_dir pointed at a shared
// folder such as /var cannot wipe it. Add new entries here when an operation starts creating
// them.
var ownEntries = map[string]bool{
	LockFile:      true,
	BinFolder:     true,
	ContainersDir: true,
	NetworksDir:   true,
	ProfilesDir:   true,
	RecordingsDir: true,
	ImagesDir:     true,
	LocksDir:      true,
	IdmapFile:     true,
	UploadsDir:    true,
}

// namesShown caps the object names that a conflict message lists per kind.
const namesShown = 10

// Uninstall removes the state folder under an exclusive lock. It fails with CodeConflict while
// the inventory is not empty or the folder holds entries that the helper did not create.
func (d Dir) Uninstall(ctx context.Context) (protocol.UninstallResult, error) {
	lock, err := d.lock(ctx, lockfile.Exclusive)
	if errors.Is(err, fs.ErrNotExist) {
		return protocol.UninstallResult{Removed: false}, nil
	}
	if err != nil {
		return protocol.UninstallResult{}, err
	}

	// Releasing a lock on the removed file is harmless: waiters notice that the file is gone.
	if err := releaseAfter(lock, d.remove()); err != nil {
		return protocol.UninstallResult{}, err
	}
	return protocol.UninstallResult{Removed: true}, nil
}

// remove removes the state folder once it is free of objects and foreign entries. The caller
// holds the exclusive lock.
func (d Dir) remove() error {
	inventory, err := d.readInventory()
	if err != nil {
		return err
	}
	if !inventory.Empty() {
		return protocol.Errorf(protocol.CodeConflict,
			"device still holds %s managed by iotfleet; destroy them first", describe(inventory))
	}
	if err := d.checkOwnEntries(); err != nil {
		return err
	}
	// NOTE: checkOwnEntries looks at the top level only, so files that someone put inside the
	// helper's own folders (bin, images, ...) are removed with them.
	if err := removeContents(d.Path); err != nil {
		return fmt.Errorf("remove state folder %s: %w", d.Path, err)
	}
	// A state folder that is a mount point cannot be removed; it is left empty.
	if err := os.Remove(d.Path); err != nil && !errors.Is(err, syscall.EBUSY) {
		return fmt.Errorf("remove state folder %s: %w", d.Path, err)
	}
	return atomicfile.SyncDir(filepath.Dir(d.Path))
}

// removeContents removes every entry of dir, but not dir itself.
func removeContents(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, entry := range entries {
		if err := os.RemoveAll(filepath.Join(dir, entry.Name())); err != nil {
			return err
		}
	}
	return nil
}

// checkOwnEntries returns a CodeConflict error naming the entries of the state folder that are
// not in ownEntries.
func (d Dir) checkOwnEntries() error {
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		return fmt.Errorf("list state folder: %w", err)
	}
	var foreign []string
	for _, entry := range entries {
		if !ownEntries[entry.Name()] && !atomicfile.IsTemp(entry.Name()) {
			foreign = append(foreign, fmt.Sprintf("%q", entry.Name()))
		}
	}
	if len(foreign) == 0 {
		return nil
	}
	return protocol.Errorf(protocol.CodeConflict,
		"state folder %s also holds %s, which iotfleet did not create; move them elsewhere, "+
			"or set state_dir to a folder that only iotfleet uses", d.Path, joinNames(foreign))
}

// describe lists the objects of a non-empty inventory, for example
// "2 containers (db, web) and 1 network (lan)".
func describe(inventory protocol.Inventory) string {
	kinds := []struct {
		singular string
		names    []string
	}{
		{"container", inventory.Containers},
		{"network", inventory.Networks},
		{"profile", inventory.Profiles},
		{"recording", inventory.Recordings},
	}
	var parts []string
	for _, kind := range kinds {
		if len(kind.names) == 0 {
			continue
		}
		noun := kind.singular
		if len(kind.names) > 1 {
			noun += "s"
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s)", len(kind.names), noun, joinNames(kind.names)))
	}
	return joinList(parts)
}

// joinNames joins up to namesShown names with commas and counts the rest.
func joinNames(names []string) string {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	if len(sorted) <= namesShown {
		return strings.Join(sorted, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(sorted[:namesShown], ", "), len(sorted)-namesShown)
}

// joinList joins phrases as English prose: "a", "a and b", "a, b and c".
func joinList(parts []string) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
