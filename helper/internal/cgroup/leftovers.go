package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Leftovers returns the cgroup folders of every hierarchy that LXC 5.0 made for the container
// name (lxc.payload.<name> and lxc.monitor.<name>). LXC creates them below the cgroup of PID 1,
// which is the root of each hierarchy or one level below it, so only those two levels are
// searched.
func Leftovers(name string) ([]string, error) {
	mountPoints, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	names := map[string]bool{"lxc.payload." + name: true, "lxc.monitor." + name: true}
	var found []string
	for _, mountPoint := range mountPoints {
		for _, pattern := range []string{"*", "*/*"} {
			matches, err := filepath.Glob(filepath.Join(mountPoint, pattern))
			if err != nil {
				return nil, fmt.Errorf("search cgroups: %w", err)
			}
			for _, match := range matches {
				if names[filepath.Base(match)] {
					found = append(found, match)
				}
			}
		}
	}
	sort.Strings(found)
	return found, nil
}

// emptyTimeout bounds the wait for a cgroup's processes to exit. LXC reports a container as
// STOPPED before its monitor process has left the monitor cgroup.
const emptyTimeout = 5 * time.Second

// Remove removes the cgroup folder dir and the cgroups below it, deepest first, once the
// processes in them have exited. A cgroup that still holds processes after emptyTimeout is
// an error that names it.
func Remove(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	for _, entry := range entries {
		if entry.IsDir() {
			if err := Remove(filepath.Join(dir, entry.Name())); err != nil {
				return err
			}
		}
	}
	deadline := time.Now().Add(emptyTimeout)
	for {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: it still contains processes %s after %s: %w", dir, procs(dir), emptyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procs returns the PIDs in the cgroup, for an error message.
func procs(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return "(unknown)"
	}
	return "[" + strings.Join(strings.Fields(string(data)), " ") + "]"
}

// cgroupMounts returns the mount points of every cgroup v1 and v2 hierarchy.
func cgroupMounts() ([]string, error) {
	file, err := os.Open(MountInfo)
	if err != nil {
		return nil, fmt.Errorf("list cgroup mounts: %w", err)
	}
	defer file.Close()
	var mounts []string
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		mountPoint, fsType, _, ok := parseMountLine(scanner.Text())
		if ok && (fsType == "cgroup" || fsType == "cgroup2") {
			mounts = append(mounts, mountPoint)
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("list cgroup mounts: %w", err)
	}
	return mounts, nil
}

// Renamed returns the cgroup folders that LXC made for the container name under a numbered
// name, such as lxc.payload.<name>-1, which it picks while lxc.payload.<name> still exists
// from a start whose monitor was killed. Only folders without processes are returned, and none
// of a container that is really called <name>-N: defined reports whether one exists.
func Renamed(name string, defined func(string) bool) ([]string, error) {
	mountPoints, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	return renamedIn(mountPoints, name, defined)
}

// renamedIn is Renamed over the hierarchies mounted at mountPoints.
func renamedIn(mountPoints []string, name string, defined func(string) bool) ([]string, error) {
	var found []string
	for _, mountPoint := range mountPoints {
		for _, level := range []string{"", "*"} {
			for _, prefix := range []string{"lxc.payload.", "lxc.monitor."} {
				pattern := filepath.Join(mountPoint, level, prefix+name+"-*")
				matches, err := filepath.Glob(pattern)
				if err != nil {
					return nil, fmt.Errorf("search cgroups: %w", err)
				}
				for _, match := range matches {
					renamed := strings.TrimPrefix(filepath.Base(match), prefix)
					if numberedName(name, renamed) && !defined(renamed) && withoutProcesses(match) {
						found = append(found, match)
					}
				}
			}
		}
	}
	sort.Strings(found)
	return found, nil
}

// numberedName reports whether renamed is name, a hyphen and a decimal number.
func numberedName(name, renamed string) bool {
	suffix, ok := strings.CutPrefix(renamed, name+"-")
	if !ok || suffix == "" {
		return false
	}
	for _, r := range suffix {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// withoutProcesses reports whether neither the cgroup dir nor any cgroup below it holds a
// process. A cgroup whose process list cannot be read counts as holding some.
func withoutProcesses(dir string) bool {
	empty := true
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !entry.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
		if err != nil || len(strings.TrimSpace(string(data))) > 0 {
			empty = false
			return fs.SkipAll
		}
		return nil
	})
	return err == nil && empty
}

// Stale returns the cgroup folders that LXC left for the stopped container name in lxcPath:
// those of Leftovers, and those of Renamed that no other container in lxcPath owns.
func Stale(lxcPath, name string) ([]string, error) {
	leftovers, err := Leftovers(name)
	if err != nil {
		return nil, err
	}
	defined := func(container string) bool {
		_, err := os.Stat(filepath.Join(lxcPath, container, "config"))
		return err == nil
	}
	renamed, err := Renamed(name, defined)
	if err != nil {
		return nil, err
	}
	return append(leftovers, renamed...), nil
}
