//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// cgroupRoot is the mount point of the machine's cgroup hierarchies.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupRemoveTimeout bounds the wait for the processes of a stopped container to leave its
// cgroups.
const cgroupRemoveTimeout = 5 * time.Second

// removeCgroups removes the cgroups that LXC made for the containers and left behind, which
// it does when its monitor is killed, as an interrupt does. LXC 5.0 names them
// lxc.payload.NAME and lxc.monitor.NAME, below the root of each hierarchy (cgroup v1
// controllers and the unified one) or one level deeper.
func removeCgroups(containers []string) error {
	var errs []error
	for _, container := range containers {
		for _, kind := range []string{"payload", "monitor"} {
			name := "lxc." + kind + "." + container
			for _, pattern := range []string{name, "*/" + name, "*/*/" + name} {
				matches, _ := filepath.Glob(filepath.Join(cgroupRoot, pattern))
				for _, dir := range matches {
					if err := removeCgroup(dir); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// removeCgroup removes the cgroup dir and every cgroup below it, deepest first, retrying
// while their processes exit.
func removeCgroup(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err == nil && entry.IsDir() {
			dirs = append(dirs, path)
		}
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	slices.SortFunc(dirs, func(a, b string) int {
		return strings.Count(b, "/") - strings.Count(a, "/")
	})
	deadline := time.Now().Add(cgroupRemoveTimeout)
	for _, d := range dirs {
		for {
			err := os.Remove(d)
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("remove cgroup %s: %w; a process may still run in it", d, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}
