package facts

import (
	"errors"
	"io/fs"
	"reflect"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// fakeStatfs returns a StatfsType that reports types by path; a missing path does not exist.
func fakeStatfs(types map[string]int64) func(string) (int64, error) {
	return func(path string) (int64, error) {
		if fsType, ok := types[path]; ok {
			return fsType, nil
		}
		return 0, &fs.PathError{Op: "statfs", Path: path, Err: unix.ENOENT}
	}
}

func TestCgroupLayout(t *testing.T) {
	const ext4Magic = 0xef53
	tests := []struct {
		name  string
		types map[string]int64
		want  string
	}{
		{"unified", map[string]int64{CgroupRoot: unix.CGROUP2_SUPER_MAGIC}, protocol.CgroupV2},
		{"hybrid", map[string]int64{CgroupRoot: unix.TMPFS_MAGIC, CgroupUnified: unix.CGROUP2_SUPER_MAGIC}, protocol.CgroupHybrid},
		{"legacy without unified", map[string]int64{CgroupRoot: unix.TMPFS_MAGIC}, protocol.CgroupV1},
		{"legacy with plain unified folder", map[string]int64{CgroupRoot: unix.TMPFS_MAGIC, CgroupUnified: unix.TMPFS_MAGIC}, protocol.CgroupV1},
		{"v1 hierarchy at root", map[string]int64{CgroupRoot: unix.CGROUP_SUPER_MAGIC}, protocol.CgroupV1},
		{"unknown file system", map[string]int64{CgroupRoot: ext4Magic, CgroupUnified: unix.CGROUP2_SUPER_MAGIC}, protocol.CgroupV1},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := CgroupLayout(fakeStatfs(test.types))
			if err != nil {
				t.Fatalf("CgroupLayout: %v", err)
			}
			if got != test.want {
				t.Errorf("CgroupLayout = %q, want %q", got, test.want)
			}
		})
	}
}

func TestCgroupLayoutErrors(t *testing.T) {
	denied := func(path string) (int64, error) {
		if path == CgroupRoot {
			return unix.TMPFS_MAGIC, nil
		}
		return 0, &fs.PathError{Op: "statfs", Path: path, Err: unix.EACCES}
	}
	if _, err := CgroupLayout(denied); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("CgroupLayout with unreadable unified mount: error = %v, want fs.ErrPermission", err)
	}

	if _, err := CgroupLayout(fakeStatfs(nil)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CgroupLayout without %s: error = %v, want fs.ErrNotExist", CgroupRoot, err)
	}
}

func fakeHost(files map[string]string) Host {
	return Host{
		Uname: func() (string, string, error) { return "aarch64", "6.1.0-rpi7", nil },
		StatfsType: fakeStatfs(map[string]int64{
			CgroupRoot: unix.TMPFS_MAGIC, CgroupUnified: unix.CGROUP2_SUPER_MAGIC,
		}),
		ReadFile: func(path string) ([]byte, error) {
			if content, ok := files[path]; ok {
				return []byte(content), nil
			}
			return nil, &fs.PathError{Op: "open", Path: path, Err: unix.ENOENT}
		},
		LXCVersion: func() (string, error) { return "5.0.2", nil },
	}
}

func TestCollect(t *testing.T) {
	host := fakeHost(map[string]string{
		SeccompActionsFile:  "kill_process kill_thread trap errno user_notif trace log allow\n",
		AppArmorEnabledFile: "Y\n",
	})

	got, err := host.Collect()
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	want := protocol.Facts{
		Arch:           "aarch64",
		KernelRelease:  "6.1.0-rpi7",
		LXCVersion:     "5.0.2",
		CgroupLayout:   protocol.CgroupHybrid,
		SeccompActions: []string{"kill_process", "kill_thread", "trap", "errno", "user_notif", "trace", "log", "allow"},
		AppArmor:       true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Collect = %+v, want %+v", got, want)
	}
}

func TestCollectWithoutOptionalFiles(t *testing.T) {
	got, err := fakeHost(nil).Collect()
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if got.SeccompActions == nil || len(got.SeccompActions) != 0 {
		t.Errorf("SeccompActions = %#v, want an empty, non-nil list", got.SeccompActions)
	}
	if got.AppArmor {
		t.Error("AppArmor = true without the apparmor module")
	}
}

func TestCollectAppArmorState(t *testing.T) {
	for content, want := range map[string]bool{"Y\n": true, "N\n": false, "": false} {
		got, err := fakeHost(map[string]string{AppArmorEnabledFile: content}).Collect()
		if err != nil {
			t.Fatalf("Collect: %v", err)
		}
		if got.AppArmor != want {
			t.Errorf("AppArmor = %v with %s holding %q, want %v", got.AppArmor, AppArmorEnabledFile, content, want)
		}
	}
}

func TestCollectLXCVersionError(t *testing.T) {
	host := fakeHost(nil)
	host.LXCVersion = func() (string, error) { return "", errors.New("liblxc missing") }

	if _, err := host.Collect(); err == nil {
		t.Error("Collect succeeded without an LXC version, want an error")
	}
}

// The real kernel interfaces also work under qemu-user: it reports the guest architecture from
// uname(2) and passes statfs(2) and file reads through to the host kernel.
func TestNewHostReadsKernel(t *testing.T) {
	host := NewHost(func() (string, error) { return "test", nil })

	got, err := host.Collect()
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if got.Arch == "" || got.KernelRelease == "" {
		t.Errorf("Arch = %q, KernelRelease = %q, want both set", got.Arch, got.KernelRelease)
	}
	wantArch := map[string][]string{
		"amd64": {"x86_64"},
		"arm64": {"aarch64"},
		"arm":   {"armv7l", "armv8l"},
	}[runtime.GOARCH]
	if wantArch != nil && !slices.Contains(wantArch, got.Arch) {
		t.Errorf("Arch = %q on GOARCH %s, want one of %q", got.Arch, runtime.GOARCH, wantArch)
	}
	switch got.CgroupLayout {
	case protocol.CgroupV1, protocol.CgroupV2, protocol.CgroupHybrid:
	default:
		t.Errorf("CgroupLayout = %q, want v1, v2 or hybrid", got.CgroupLayout)
	}
}
