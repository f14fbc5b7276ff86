package capability

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name    string
		lastCap int
		wantErr string
	}{
		{"net_bind_service", 40, ""},
		{"chown", 0, ""},
		{"checkpoint_restore", 40, ""},
		{"checkpoint_restore", 39, "newer than this kernel"},
		{"CAP_NET_RAW", 40, `write it as "net_raw"`},
		{"NET_RAW", 40, `write it as "net_raw"`},
		{"fly", 40, "unknown capability"},
		{"", 40, "unknown capability"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.name, tc.lastCap)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Validate(%q, %d) = %v, want nil", tc.name, tc.lastCap, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate(%q, %d) = %v, want an error containing %q", tc.name, tc.lastCap, err, tc.wantErr)
			}
		})
	}
}

func TestNumber(t *testing.T) {
	for name, want := range map[string]int{"chown": 0, "net_raw": 13, "sys_admin": 21, "bpf": 39} {
		if got, ok := Number(name); !ok || got != want {
			t.Errorf("Number(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
}

func TestReadLastCap(t *testing.T) {
	last, err := ReadLastCap()
	if err != nil {
		t.Skipf("kernel does not expose %s: %v", LastCapFile, err)
	}
	if last < Number0("audit_read") {
		t.Errorf("ReadLastCap = %d, want at least %d (every supported kernel has audit_read)", last, Number0("audit_read"))
	}
}

// Number0 returns the number of a name known to exist.
func Number0(name string) int {
	n, _ := Number(name)
	return n
}
