package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrNoUnified reports that no cgroup v2 hierarchy is mounted at its root.
var ErrNoUnified = errors.New("no cgroup v2 (cgroup2) hierarchy is mounted; mount one, as systemd " +
	"does on /sys/fs/cgroup or, on hybrid hosts, /sys/fs/cgroup/unified")

// UnifiedMountPoint returns where the root of the cgroup v2 hierarchy is mounted in the helper's
// mount namespace.
func UnifiedMountPoint() (string, error) {
	file, err := os.Open(MountInfo)
	if err != nil {
		return "", fmt.Errorf("find cgroup v2 mount: %w", err)
	}
	defer file.Close()
	return parseUnifiedMountPoint(file)
}

// parseUnifiedMountPoint returns the mount point of the first cgroup2 mount in a mountinfo table
// whose root is the hierarchy's root, so that the paths in /proc/PID/cgroup apply below it.
func parseUnifiedMountPoint(mountinfo io.Reader) (string, error) {
	scanner := bufio.NewScanner(mountinfo)
	for scanner.Scan() {
		line := scanner.Text()
		mountPoint, fsType, _, ok := parseMountLine(line)
		if ok && fsType == "cgroup2" && strings.Fields(line)[3] == "/" {
			return mountPoint, nil
		}
	}
	if err := scanner.Err(); err != nil {
		return "", fmt.Errorf("find cgroup v2 mount: read mount table: %w", err)
	}
	return "", ErrNoUnified
}

// UnifiedDir returns the cgroup v2 folder of process pid below mountPoint, from the "0::" line
// of /proc/PID/cgroup.
func UnifiedDir(mountPoint string, pid int) (string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", fmt.Errorf("read cgroups of process %d: %w", pid, err)
	}
	path, ok := parseUnifiedPath(string(data))
	if !ok {
		return "", fmt.Errorf("process %d is in no cgroup v2: /proc/%d/cgroup has no \"0::\" line", pid, pid)
	}
	return filepath.Join(mountPoint, path), nil
}

// parseUnifiedPath returns the path of the "0::" line of a /proc/PID/cgroup file.
func parseUnifiedPath(content string) (string, bool) {
	for _, line := range strings.Split(content, "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok && strings.HasPrefix(path, "/") {
			return path, true
		}
	}
	return "", false
}
