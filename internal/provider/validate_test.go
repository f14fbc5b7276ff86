package provider

import (
	"strings"
	"testing"
)

func TestValidateHost(t *testing.T) {
	valid := []string{"gateway-1", "gw.example.com", "gw.example.com.", "192.0.2.10", "2001:db8::10", "::1"}
	for _, host := range valid {
		if err := validateHost(host); err != nil {
			t.Errorf("validateHost(%q) = %v, want nil", host, err)
		}
	}
	invalid := map[string]string{
		"[2001:db8::10]": "without brackets",
		"gw:22":          "remove the port",
		"10.0.0.2:22":    "remove the port",
		"-gw":            "not a valid DNS label",
		"a..b":           "not a valid DNS label",
		"":               "at most 253",
		"gw_1":           "not a valid DNS label",
	}
	for host, want := range invalid {
		err := validateHost(host)
		if err == nil {
			t.Errorf("validateHost(%q) = nil, want an error", host)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validateHost(%q) = %q, want it to contain %q", host, err, want)
		}
	}
}

func TestValidateDevicePath(t *testing.T) {
	for _, p := range []string{"/var/lib/iotfleet", "/data/iot-fleet_2", "/x"} {
		if err := validateDevicePath(p); err != nil {
			t.Errorf("validateDevicePath(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{"var/lib", "/", "/var/lib/", "/var//lib", "/var/../etc", "/var/lib/a b", "/var/$(id)", "/var/'x'"} {
		if err := validateDevicePath(p); err == nil {
			t.Errorf("validateDevicePath(%q) = nil, want an error", p)
		}
	}
}

func TestValidateUser(t *testing.T) {
	for _, u := range []string{"root", "ops_1", "_svc", "a.b-c"} {
		if err := validateUser(u); err != nil {
			t.Errorf("validateUser(%q) = %v, want nil", u, err)
		}
	}
	for _, u := range []string{"", "Root", "1ops", "a b", "a;b", strings.Repeat("a", 33)} {
		if err := validateUser(u); err == nil {
			t.Errorf("validateUser(%q) = nil, want an error", u)
		}
	}
}

func TestValidateHostKey(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	for _, k := range []string{key, key + " comment", "gw.example.com " + key, "[gw]:2222 " + key} {
		if err := validateHostKey(k); err != nil {
			t.Errorf("validateHostKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range []string{"", "ssh-ed25519", "ssh-ed25519 not-base64!", "AAAAC3NzaC1lZDI1NTE5"} {
		err := validateHostKey(k)
		if err == nil {
			t.Errorf("validateHostKey(%q) = nil, want an error", k)
			continue
		}
		if !strings.Contains(err.Error(), "ssh-keyscan") {
			t.Errorf("validateHostKey(%q) = %q, want it to say how to get a key", k, err)
		}
	}
}

func TestValidateDuration(t *testing.T) {
	if err := validateDuration("45s"); err != nil {
		t.Errorf("validateDuration(45s) = %v, want nil", err)
	}
	for _, d := range []string{"", "45", "-1s", "0s", "soon"} {
		if err := validateDuration(d); err == nil {
			t.Errorf("validateDuration(%q) = nil, want an error", d)
		}
	}
}

func TestValidateDeviceFolders(t *testing.T) {
	if err := validateDeviceFolders("/var/lib/iotfleet", "/var/lib/lxc"); err != nil {
		t.Errorf("default folders: %v", err)
	}
	tests := map[[2]string]string{
		{"/etc", "/var/lib/lxc"}:                    "system folder",
		{"/var/lib", "/var/lib/lxc"}:                "system folder",
		{"/var/lib/lxc", "/var/lib/lxc"}:            "overlaps lxc_path",
		{"/var/lib/lxc/iotfleet", "/var/lib/lxc"}:   "overlaps lxc_path",
		{"/data/iotfleet", "/data/iotfleet/lxc"}:    "overlaps lxc_path",
		{"/var/lib/iotfleet", "/var/lib/iotfleet2"}: "",
	}
	for folders, want := range tests {
		err := validateDeviceFolders(folders[0], folders[1])
		if want == "" {
			if err != nil {
				t.Errorf("validateDeviceFolders(%q, %q) = %v, want nil", folders[0], folders[1], err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validateDeviceFolders(%q, %q) = %v, want an error containing %q", folders[0], folders[1], err, want)
		}
	}
}
