// Package cgroup finds which cgroup hierarchy each controller lives in and turns container
// limits into the LXC keys and values of that hierarchy.
//
// On a hybrid host each controller is either mounted as a cgroup v1 hierarchy or enabled in
// the unified (v2) one, never both, so the keys are chosen per controller.
package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Version is the hierarchy a controller lives in.
type Version int

const (
	Missing Version = iota
	V1
	V2
)

func (v Version) String() string {
	switch v {
	case V1:
		return "v1"
	case V2:
		return "v2"
	default:
		return "missing"
	}
}

// Controllers that container limits use.
const (
	Memory  = "memory"
	Pids    = "pids"
	CPU     = "cpu"
	Devices = "devices"
)

// Layout records where each controller is mounted.
type Layout struct {
	// V1 holds the controllers that have a cgroup v1 hierarchy.
	V1 map[string]bool

	// V2 holds the controllers listed in the unified hierarchy's cgroup.controllers, and is
	// nil when there is no unified hierarchy.
	V2 map[string]bool
}

// Where returns the hierarchy that controller lives in. The v2 device controller is not listed in
// cgroup.controllers because it is a BPF program that any unified hierarchy supports.
func (l Layout) Where(controller string) Version {
	switch {
	case l.V1[controller]:
		return V1
	case l.V2[controller]:
		return V2
	case controller == Devices && l.V2 != nil:
		return V2
	default:
		return Missing
	}
}

// String lists the controllers per hierarchy, for error messages.
func (l Layout) String() string {
	return fmt.Sprintf("v1: %s; v2: %s", list(l.V1), list(l.V2))
}

func list(set map[string]bool) string {
	if len(set) == 0 {
		return "none"
	}
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// v1Options are the super options of a cgroup v1 mount that are not controller names; the
// others with a value (name=, release_agent=) are recognized by their '='.
var v1Options = map[string]bool{
	"rw": true, "ro": true, "xattr": true, "noprefix": true, "clone_children": true,
	"cpuset_v2_mode": true, "favordynmods": true, "none": true,
}

// MountInfo is the mount table of the helper's own mount namespace.
const MountInfo = "/proc/self/mountinfo"

// Detect reads the mount table and the unified hierarchy's controllers.
func Detect() (Layout, error) {
	file, err := os.Open(MountInfo)
	if err != nil {
		return Layout{}, fmt.Errorf("detect cgroup layout: %w", err)
	}
	defer file.Close()
	return Parse(file, os.ReadFile)
}

// Parse reads a mountinfo table and, through readFile, the cgroup.controllers file of the
// first cgroup2 mount.
func Parse(mountinfo io.Reader, readFile func(string) ([]byte, error)) (Layout, error) {
	layout := Layout{V1: map[string]bool{}}
	unified := ""
	scanner := bufio.NewScanner(mountinfo)
	for scanner.Scan() {
		mountPoint, fsType, superOptions, ok := parseMountLine(scanner.Text())
		if !ok {
			continue
		}
		switch fsType {
		case "cgroup":
			for _, option := range strings.Split(superOptions, ",") {
				if !v1Options[option] && !strings.Contains(option, "=") {
					layout.V1[option] = true
				}
			}
		case "cgroup2":
			if unified == "" {
				unified = mountPoint
			}
		}
	}
	if err := scanner.Err(); err != nil {
		return Layout{}, fmt.Errorf("detect cgroup layout: read mount table: %w", err)
	}
	if unified == "" {
		return layout, nil
	}

	data, err := readFile(filepath.Join(unified, "cgroup.controllers"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Layout{}, fmt.Errorf("detect cgroup layout: %w", err)
	}
	layout.V2 = map[string]bool{}
	for _, controller := range strings.Fields(string(data)) {
		layout.V2[controller] = true
	}
	return layout, nil
}

// parseMountLine returns the mount point, file system type and super options of one
// mountinfo line (see proc(5)): the optional fields end at a lone "-".
func parseMountLine(line string) (mountPoint, fsType, superOptions string, ok bool) {
	fields := strings.Fields(line)
	for i, field := range fields {
		if field == "-" && i >= 5 && len(fields) >= i+4 {
			return unescape(fields[4]), fields[i+1], fields[i+3], true
		}
	}
	return "", "", "", false
}

// unescape decodes the octal escapes (\040 for a space) that mountinfo uses in paths.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return true
}

// Kind classifies the layout as protocol.CgroupV1, CgroupV2 or CgroupHybrid.
func (l Layout) Kind() string {
	switch {
	case l.V2 != nil && len(l.V1) > 0:
		return protocol.CgroupHybrid
	case l.V2 != nil:
		return protocol.CgroupV2
	default:
		return protocol.CgroupV1
	}
}
