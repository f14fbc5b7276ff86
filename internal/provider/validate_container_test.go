package provider

import (
	"strings"
	"testing"
)

func TestValidateContainerName(t *testing.T) {
	for _, name := range []string{"web", "a", "0", "sensor-reader", "web-2", strings.Repeat("a", 63)} {
		if err := validateContainerName(name); err != nil {
			t.Errorf("validateContainerName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "../x", "a b", "Web", "-web", "web-", "a_b", "a.b", "a/b", strings.Repeat("a", 64)} {
		err := validateContainerName(name)
		if err == nil {
			t.Errorf("validateContainerName(%q) = nil, want an error", name)
			continue
		}
		if !strings.Contains(err.Error(), "a-z, 0-9 and '-'") {
			t.Errorf("validateContainerName(%q) = %q, want it to name the allowed characters", name, err)
		}
	}
}

func TestNormalizeCapability(t *testing.T) {
	tests := map[string]string{
		"net_bind_service":       "net_bind_service",
		"CAP_NET_BIND_SERVICE":   "net_bind_service",
		"Cap_Chown":              "chown",
		"NET_ADMIN":              "net_admin",
		"cap_checkpoint_restore": "checkpoint_restore",
	}
	for input, want := range tests {
		got, err := normalizeCapability(input)
		if err != nil {
			t.Errorf("normalizeCapability(%q) error: %v", input, err)
			continue
		}
		if got != want {
			t.Errorf("normalizeCapability(%q) = %q, want %q", input, got, want)
		}
	}
}

func TestNormalizeCapabilityUnknown(t *testing.T) {
	tests := []struct {
		name       string
		suggestion string
	}{
		{"net_bind_servce", `did you mean "net_bind_service"?`},
		{"CAP_SYSADMIN", `did you mean "sys_admin"?`},
		{"cap_chwon", `did you mean "chown"?`},
		{"nonsense", ""},
		{"superpowers", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := normalizeCapability(tt.name)
			if err == nil {
				t.Fatalf("normalizeCapability(%q) = nil error, want one", tt.name)
			}
			if !strings.Contains(err.Error(), "unknown capability") {
				t.Errorf("error %q does not say the capability is unknown", err)
			}
			if tt.suggestion == "" && strings.Contains(err.Error(), "did you mean") {
				t.Errorf("error %q suggests a name for a value that resembles none", err)
			}
			if tt.suggestion != "" && !strings.Contains(err.Error(), tt.suggestion) {
				t.Errorf("error %q lacks the suggestion %s", err, tt.suggestion)
			}
		})
	}
}

func TestNormalizeCapabilityRejectsAll(t *testing.T) {
	for _, name := range []string{"all", "ALL", "CAP_ALL"} {
		_, err := normalizeCapability(name)
		if err == nil || !strings.Contains(err.Error(), "list each capability") {
			t.Errorf("normalizeCapability(%q) = %v, want an error asking for each capability", name, err)
		}
	}
}

func TestCapabilityTable(t *testing.T) {
	if len(capabilityNames) != 41 {
		t.Errorf("capabilityNames has %d names, want 41 (0 to CAP_CHECKPOINT_RESTORE = 40)", len(capabilityNames))
	}
	// Spot checks against include/uapi/linux/capability.h.
	for name, bit := range map[string]uint{"chown": 0, "net_bind_service": 10, "sys_admin": 21, "mknod": 27, "bpf": 39} {
		if capabilityBits[name] != bit {
			t.Errorf("capability %s has bit %d, want %d", name, capabilityBits[name], bit)
		}
	}
	if got := capabilityMask([]string{"chown", "net_bind_service"}); got != 0x401 {
		t.Errorf("capabilityMask(chown, net_bind_service) = %#x, want 0x401", got)
	}
}

func TestParseMemoryLimit(t *testing.T) {
	tests := map[string]int64{
		"64MiB":     64 << 20,
		"512M":      512 << 20,
		"512m":      512 << 20,
		"1G":        1 << 30,
		"1GiB":      1 << 30,
		"1GB":       1_000_000_000,
		"1.5GiB":    3 << 29,
		"4096K":     4 << 20,
		"64 MiB":    64 << 20,
		"4194304":   4 << 20,
		"1T":        1 << 40,
		"unlimited": 0,
	}
	for input, want := range tests {
		got, err := parseMemoryLimit(input)
		if err != nil {
			t.Errorf("parseMemoryLimit(%q) error: %v", input, err)
			continue
		}
		if got != want {
			t.Errorf("parseMemoryLimit(%q) = %d, want %d", input, got, want)
		}
	}
}

func TestParseMemoryLimitInvalid(t *testing.T) {
	tests := map[string]string{
		"-1M":         "cannot be negative",
		"":            "use a whole or decimal number",
		"lots":        "use a whole or decimal number",
		"1X":          `unknown unit "X"`,
		"1.2.3M":      "use a whole or decimal number",
		"512":         "below the minimum of 4MiB",
		"2MiB":        "below the minimum of 4MiB",
		"0":           `use "unlimited"`,
		"9999999999T": "too large",
		"Unlimited":   "use a whole or decimal number",
	}
	for input, want := range tests {
		_, err := parseMemoryLimit(input)
		if err == nil {
			t.Errorf("parseMemoryLimit(%q) = nil error, want one containing %q", input, want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("parseMemoryLimit(%q) = %q, want it to contain %q", input, err, want)
		}
		if !strings.Contains(err.Error(), input) {
			t.Errorf("parseMemoryLimit(%q) = %q, want it to name the value", input, err)
		}
	}
}

func TestFormatMemoryLimit(t *testing.T) {
	tests := map[int64]string{0: "unlimited", 128 << 20: "128MiB", 1 << 30: "1GiB", 4608 << 10: "4608KiB", 1_000_000_007: "1000000007", 2 << 40: "2TiB"}
	for bytes, want := range tests {
		got := formatMemoryLimit(bytes)
		if got != want {
			t.Errorf("formatMemoryLimit(%d) = %q, want %q", bytes, got, want)
		}
		if parsed, err := parseMemoryLimit(got); err != nil || parsed != bytes {
			t.Errorf("parseMemoryLimit(formatMemoryLimit(%d)) = %d, %v; want the same bytes back", bytes, parsed, err)
		}
	}
}

func TestParseCPULimit(t *testing.T) {
	tests := map[string]int64{"0.5": 50_000, "2": 200_000, "0.01": 1000, "1.125": 112_500, "0.25": 25_000}
	for input, want := range tests {
		quota, period, err := parseCPULimit(input)
		if err != nil {
			t.Errorf("parseCPULimit(%q) error: %v", input, err)
			continue
		}
		if quota != want || period != cpuPeriodMicros {
			t.Errorf("parseCPULimit(%q) = %d/%d, want %d/%d", input, quota, period, want, cpuPeriodMicros)
		}
	}
}

func TestParseCPULimitInvalid(t *testing.T) {
	tests := map[string]string{
		"-1":      "cannot be negative",
		"-0.5":    "cannot be negative",
		"0":       "minimum is 0.01",
		"0.001":   "minimum is 0.01",
		"fast":    "number of CPUs",
		"1.2345":  "at most three decimals",
		"1e3":     "number of CPUs",
		"":        "number of CPUs",
		"50%":     "number of CPUs",
		"1234567": "number of CPUs",
	}
	for input, want := range tests {
		_, _, err := parseCPULimit(input)
		if err == nil {
			t.Errorf("parseCPULimit(%q) = nil error, want one containing %q", input, want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("parseCPULimit(%q) = %q, want it to contain %q", input, err, want)
		}
	}
}

func TestFormatCPULimit(t *testing.T) {
	tests := []struct {
		quota, period int64
		want          string
	}{
		{50_000, 100_000, "0.5"},
		{200_000, 100_000, "2"},
		{33_333, 100_000, "0.333"},
		{1000, 100_000, "0.01"},
		{150_000, 1_000_000, "0.15"},
		{0, 100_000, ""},
		{-1, 100_000, ""},
	}
	for _, tt := range tests {
		if got := formatCPULimit(tt.quota, tt.period); got != tt.want {
			t.Errorf("formatCPULimit(%d, %d) = %q, want %q", tt.quota, tt.period, got, tt.want)
		}
	}
}

func TestParseFileMode(t *testing.T) {
	tests := map[string]uint32{"0644": 0o644, "600": 0o600, "0400": 0o400, "0755": 0o755, "000": 0}
	for input, want := range tests {
		got, err := parseFileMode(input)
		if err != nil || got != want {
			t.Errorf("parseFileMode(%q) = %o, %v; want %o", input, got, err, want)
		}
	}
	invalid := map[string]string{
		"4755":      "setuid",
		"2755":      "setuid, setgid and sticky",
		"1777":      "sticky",
		"0888":      "octal digits",
		"rw-r--r--": "octal digits",
		"64":        "octal digits",
		"06444":     "octal digits",
		"":          "octal digits",
	}
	for input, want := range invalid {
		_, err := parseFileMode(input)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseFileMode(%q) = %v, want an error containing %q", input, err, want)
		}
	}
}

func TestValidateFilePath(t *testing.T) {
	for _, p := range []string{"/etc/app.conf", "/srv/www/index.html", "/a b/c"} {
		if err := validateFilePath(p); err != nil {
			t.Errorf("validateFilePath(%q) = %v, want nil", p, err)
		}
	}
	invalid := map[string]string{
		"/../../etc/passwd":             "'..' segments are not allowed",
		"/etc/../passwd":                "'..' segments are not allowed",
		"etc/passwd":                    "absolute path",
		"":                              "absolute path",
		"/":                             "name a file",
		"/etc//passwd":                  "clean form \"/etc/passwd\"",
		"/etc/./passwd":                 "clean form",
		"/etc/":                         "clean form",
		"/etc/a\nb":                     "control characters",
		"/" + strings.Repeat("a", 4095): "more than the limit",
	}
	for input, want := range invalid {
		err := validateFilePath(input)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validateFilePath(%q) = %v, want an error containing %q", input, err, want)
		}
	}
}

func TestValidateContainerPathAllowsRoot(t *testing.T) {
	if err := validateContainerPath("/"); err != nil {
		t.Errorf("validateContainerPath(\"/\") = %v, want nil: / is a valid working_dir", err)
	}
}

func TestValidateEnvName(t *testing.T) {
	for _, name := range []string{"PATH", "LOG_LEVEL", "_x", "a1"} {
		if err := validateEnvName(name); err != nil {
			t.Errorf("validateEnvName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "1A", "A-B", "A=B", "A B"} {
		if err := validateEnvName(name); err == nil {
			t.Errorf("validateEnvName(%q) = nil, want an error", name)
		}
	}
}

func TestValidateArgument(t *testing.T) {
	if err := validateArgument("-c"); err != nil {
		t.Errorf("validateArgument(\"-c\") = %v, want nil", err)
	}
	if err := validateArgument("a\x00b"); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("validateArgument with a NUL byte = %v, want an error naming NUL", err)
	}
}

func TestValidateSHA256(t *testing.T) {
	valid := strings.Repeat("ab", 32)
	for _, s := range []string{valid, strings.ToUpper(valid)} {
		if err := validateSHA256(s); err != nil {
			t.Errorf("validateSHA256(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range []string{"", valid[:63], valid + "a", strings.Repeat("g", 64), "sha256:" + valid} {
		if err := validateSHA256(s); err == nil {
			t.Errorf("validateSHA256(%q) = nil, want an error", s)
		}
	}
}

func TestValidateAppArmorProfile(t *testing.T) {
	for _, name := range []string{"iotfleet-web", "lxc-container-default-cgns", "unconfined", "a//b"} {
		if err := validateAppArmorProfile(name); err != nil {
			t.Errorf("validateAppArmorProfile(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "-x", "a b", "a\nb", "a;b", "a+b"} {
		if err := validateAppArmorProfile(name); err == nil {
			t.Errorf("validateAppArmorProfile(%q) = nil, want an error", name)
		}
	}
}
