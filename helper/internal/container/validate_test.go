package container

import (
	"errors"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func TestValidateName(t *testing.T) {
	valid := []string{"a", "web", "web-1", "0", strings.Repeat("a", 63)}
	for _, name := range valid {
		if err := ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
		}
	}
	invalid := []string{"", "../x", "a b", "Web", "-web", "web-", "web_1", "web.1", "a/b", strings.Repeat("a", 64), "é"}
	for _, name := range invalid {
		err := ValidateName(name)
		var protocolErr *protocol.Error
		if !errors.As(err, &protocolErr) || protocolErr.Code != protocol.CodeInvalid {
			t.Errorf("ValidateName(%q) = %v, want a CodeInvalid error", name, err)
			continue
		}
		if !strings.Contains(err.Error(), nameRule) || !strings.Contains(err.Error(), "\""+name+"\"") {
			t.Errorf("ValidateName(%q) message %q does not name the value and the rule", name, err)
		}
	}
}

var testHost = Host{LastCap: 40}

func validSpec() protocol.ContainerSpec {
	return protocol.ContainerSpec{Name: "web", Rootfs: protocol.RootfsBusybox, Capabilities: []string{"chown"}}
}

func TestValidateSpecAccepts(t *testing.T) {
	spec := validSpec()
	spec.Command = []string{"/bin/app", "--flag=a b"}
	spec.Environment = map[string]string{"HOME": "/root", "_X1": ""}
	spec.WorkingDir = "/srv"
	spec.User, spec.Group = 65535, 100
	spec.Limits = protocol.Limits{MemoryBytes: 64 << 20, CPUWeight: 100, CPUQuotaMicros: 50000, CPUPeriodMicros: 100000, Pids: 10}
	if err := ValidateSpec(spec, testHost); err != nil {
		t.Errorf("ValidateSpec = %v, want nil", err)
	}
	image := validSpec()
	image.Rootfs, image.ImageSHA256, image.ReadOnlyRootfs = protocol.RootfsImage, strings.Repeat("a", 64), true
	if err := ValidateSpec(image, testHost); err != nil {
		t.Errorf("ValidateSpec(image) = %v, want nil", err)
	}
}

func TestValidateSpecRejects(t *testing.T) {
	cases := map[string]struct {
		change func(*protocol.ContainerSpec)
		want   string
	}{
		"rootfs":            {func(s *protocol.ContainerSpec) { s.Rootfs = "debian" }, "invalid rootfs"},
		"image without sha": {func(s *protocol.ContainerSpec) { s.Rootfs, s.ReadOnlyRootfs = protocol.RootfsImage, true }, "image_sha256"},
		"image writable": {func(s *protocol.ContainerSpec) {
			s.Rootfs, s.ImageSHA256 = protocol.RootfsImage, strings.Repeat("a", 64)
		}, "read_only_rootfs"},
		"sha with busybox":    {func(s *protocol.ContainerSpec) { s.ImageSHA256 = strings.Repeat("a", 64) }, "image_sha256 is set"},
		"empty argv0":         {func(s *protocol.ContainerSpec) { s.Command = []string{""} }, "command[0]"},
		"nul in argv":         {func(s *protocol.ContainerSpec) { s.Command = []string{"a", "b\x00"} }, "NUL"},
		"env name":            {func(s *protocol.ContainerSpec) { s.Environment = map[string]string{"1X": "v"} }, "environment variable name"},
		"env value":           {func(s *protocol.ContainerSpec) { s.Environment = map[string]string{"X": "a\x00"} }, "NUL"},
		"working dir":         {func(s *protocol.ContainerSpec) { s.WorkingDir = "srv/../x" }, "working_dir"},
		"working dir dotdot":  {func(s *protocol.ContainerSpec) { s.WorkingDir = "/srv/../x" }, "working_dir"},
		"user unmapped":       {func(s *protocol.ContainerSpec) { s.User = 65536 }, "invalid user"},
		"negative group":      {func(s *protocol.ContainerSpec) { s.Group = -1 }, "invalid group"},
		"idmap too large":     {func(s *protocol.ContainerSpec) { s.IdmapSize = MaxIdmapSize + 1 }, "idmap_size"},
		"negative idmap":      {func(s *protocol.ContainerSpec) { s.IdmapSize = -5 }, "idmap_size"},
		"user beyond idmap":   {func(s *protocol.ContainerSpec) { s.IdmapSize, s.User = 1000, 1000 }, "invalid user"},
		"unknown capability":  {func(s *protocol.ContainerSpec) { s.Capabilities = []string{"fly"} }, "unknown capability"},
		"prefixed capability": {func(s *protocol.ContainerSpec) { s.Capabilities = []string{"CAP_CHOWN"} }, `"chown"`},
		"duplicate cap":       {func(s *protocol.ContainerSpec) { s.Capabilities = []string{"chown", "chown"} }, "twice"},
		"negative memory":     {func(s *protocol.ContainerSpec) { s.Limits.MemoryBytes = -1 }, "memory_bytes"},
		"tiny memory":         {func(s *protocol.ContainerSpec) { s.Limits.MemoryBytes = 1024 }, "memory_bytes"},
		"negative pids":       {func(s *protocol.ContainerSpec) { s.Limits.Pids = -1 }, "pids"},
		"cpu weight":          {func(s *protocol.ContainerSpec) { s.Limits.CPUWeight = 10001 }, "cpu_weight"},
		"tiny quota":          {func(s *protocol.ContainerSpec) { s.Limits.CPUQuotaMicros = 10 }, "cpu_quota_us"},
		"period alone":        {func(s *protocol.ContainerSpec) { s.Limits.CPUPeriodMicros = 100000 }, "without cpu_quota_us"},
		"missing seccomp":     {func(s *protocol.ContainerSpec) { s.SeccompProfile = "/nonexistent/policy" }, "seccomp_profile"},
		"relative seccomp":    {func(s *protocol.ContainerSpec) { s.SeccompProfile = "policy" }, "seccomp_profile"},
		"apparmor disabled":   {func(s *protocol.ContainerSpec) { s.AppArmorProfile = "unconfined" }, "AppArmor is not enabled"},
		"name":                {func(s *protocol.ContainerSpec) { s.Name = "../x" }, "invalid container name"},
		"network name": {func(s *protocol.ContainerSpec) {
			s.Networks = []protocol.ContainerNIC{{Network: "lan0"}, {Network: "../lan"}}
		}, `networks[1]: invalid network name "../lan"`},
		"resolv.conf twice": {func(s *protocol.ContainerSpec) {
			s.ResolvConf = "nameserver 10.80.0.1\n"
			s.Files = []protocol.File{{Path: "/etc/resolv.conf", Mode: 0o644}}
		}, "resolv_conf and the file"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec := validSpec()
			tc.change(&spec)
			err := ValidateSpec(spec, testHost)
			var protocolErr *protocol.Error
			if !errors.As(err, &protocolErr) || protocolErr.Code != protocol.CodeInvalid {
				t.Fatalf("ValidateSpec = %v, want a CodeInvalid error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ValidateSpec error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestValidateSpecCapabilityNewerThanKernel(t *testing.T) {
	spec := validSpec()
	spec.Capabilities = []string{"checkpoint_restore"}
	if err := ValidateSpec(spec, Host{LastCap: 39}); err == nil || !strings.Contains(err.Error(), "newer than this kernel") {
		t.Errorf("ValidateSpec on a kernel with CAP_LAST_CAP 39 = %v, want a rejection", err)
	}
}

func TestEnvironmentDefaultsPath(t *testing.T) {
	env := environment(map[string]string{"B": "2", "A": "1"})
	want := "A=1,B=2,PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	if got := strings.Join(env, ","); got != want {
		t.Errorf("environment = %s, want %s", got, want)
	}
	env = environment(map[string]string{"PATH": "/opt/bin"})
	if got := strings.Join(env, ","); got != "PATH=/opt/bin" {
		t.Errorf("environment with PATH = %s, want the spec's PATH only", got)
	}
}

func TestCheckUpload(t *testing.T) {
	valid := "/var/lib/iotfleet/uploads/image.tar.gz"
	if err := checkUpload("/var/lib/iotfleet", valid); err != nil {
		t.Errorf("checkUpload(%q) = %v", valid, err)
	}
	for _, upload := range []string{
		"/etc/passwd", "/var/lib/iotfleet/uploads", "/var/lib/iotfleet/uploads/a/b.tar",
		"/var/lib/iotfleet/uploads/../lock", "uploads/x.tar", "/var/lib/iotfleet/images/x",
	} {
		if err := checkUpload("/var/lib/iotfleet", upload); err == nil {
			t.Errorf("checkUpload(%q) = nil, want an error", upload)
		}
	}
}
