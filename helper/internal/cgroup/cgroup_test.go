package cgroup

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

const hybridMountinfo = `25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
35 31 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
36 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
37 31 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
38 31 0:33 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,devices
`

const v2Mountinfo = `31 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`

func readControllers(content string) func(string) ([]byte, error) {
	return func(path string) ([]byte, error) {
		if !strings.HasSuffix(path, "/cgroup.controllers") {
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
		}
		return []byte(content), nil
	}
}

func TestParseHybrid(t *testing.T) {
	layout, err := Parse(strings.NewReader(hybridMountinfo), readControllers("hugetlb\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for controller, want := range map[string]Version{
		Memory: V1, CPU: V1, "cpuacct": V1, Pids: V1, Devices: V1, "hugetlb": V2, "io": Missing,
	} {
		if got := layout.Where(controller); got != want {
			t.Errorf("Where(%s) = %v, want %v", controller, got, want)
		}
	}
	if layout.V1["name=systemd"] || layout.V1["xattr"] {
		t.Errorf("V1 = %v, want only controllers, not named hierarchies or options", layout.V1)
	}
}

func TestParseV2(t *testing.T) {
	layout, err := Parse(strings.NewReader(v2Mountinfo), readControllers("cpuset cpu io memory pids\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for _, controller := range []string{Memory, CPU, Pids, Devices} {
		if got := layout.Where(controller); got != V2 {
			t.Errorf("Where(%s) = %v, want v2", controller, got)
		}
	}
}

func TestParseReadError(t *testing.T) {
	failing := func(string) ([]byte, error) { return nil, errors.New("boom") }
	if _, err := Parse(strings.NewReader(v2Mountinfo), failing); err == nil {
		t.Error("Parse with an unreadable cgroup.controllers succeeded, want an error")
	}
}

func TestLimitSettingsMissingController(t *testing.T) {
	layout := Layout{V1: map[string]bool{"memory": true}}
	_, err := LimitSettings(layout, protocol.Limits{Pids: 10})
	if err == nil || !strings.Contains(err.Error(), "pids") {
		t.Errorf("LimitSettings without pids controller = %v, want an error naming pids", err)
	}
	settings, err := LimitSettings(layout, protocol.Limits{MemoryBytes: 1 << 20})
	if err != nil || len(settings) != 1 || settings[0].ConfigKey() != "lxc.cgroup.memory.limit_in_bytes" {
		t.Errorf("LimitSettings(memory) = %+v, %v; want one v1 memory setting", settings, err)
	}
}

func TestLiftSettingsCoverEveryLimit(t *testing.T) {
	full := protocol.Limits{MemoryBytes: 1, Pids: 1, CPUWeight: 1, CPUQuotaMicros: 1000}
	for name, layout := range map[string]Layout{
		"v1": {V1: map[string]bool{"memory": true, "pids": true, "cpu": true}},
		"v2": {V2: map[string]bool{"memory": true, "pids": true, "cpu": true}},
	} {
		limits, err := LimitSettings(layout, full)
		if err != nil {
			t.Fatalf("%s: LimitSettings: %v", name, err)
		}
		lifted := map[string]bool{}
		for _, setting := range LiftSettings(layout) {
			lifted[setting.Key] = true
		}
		for _, setting := range limits {
			if !lifted[setting.Key] && setting.Key != "cpu.cfs_period_us" {
				t.Errorf("%s: no lift setting for %s", name, setting.Key)
			}
		}
	}
}

func TestWeightToShares(t *testing.T) {
	for weight, want := range map[int64]int64{1: 2, 10000: 262144, 100: 2597} {
		if got := WeightToShares(weight); got != want {
			t.Errorf("WeightToShares(%d) = %d, want %d", weight, got, want)
		}
	}
}

func TestDetectOnThisHost(t *testing.T) {
	layout, err := Detect()
	if err != nil {
		t.Fatalf("Detect: %v", err)
	}
	if facts := layout.Kind(); facts == "" {
		t.Errorf("Kind() is empty for layout %s", layout)
	}
}
