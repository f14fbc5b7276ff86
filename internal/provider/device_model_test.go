package provider

import (
	"strings"
	"testing"
)

func TestParseDeviceID(t *testing.T) {
	tests := []struct {
		id       string
		wantUser string
		wantHost string
		wantPort int
	}{
		{"root@192.0.2.10:22", "root", "192.0.2.10", 22},
		{"ops@gw.example.com:2222", "ops", "gw.example.com", 2222},
		{"root@[2001:db8::10]:22", "root", "2001:db8::10", 22},
		{"root@[2001:db8::10]", "root", "2001:db8::10", 22},
		{"gw.example.com", "admin", "gw.example.com", 22},
		{"192.0.2.10:2200", "admin", "192.0.2.10", 2200},
		{"root@2001:db8::10", "root", "2001:db8::10", 22},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			user, host, port, err := parseDeviceID(tt.id, "admin")
			if err != nil {
				t.Fatalf("parseDeviceID(%q) error: %v", tt.id, err)
			}
			if user != tt.wantUser {
				t.Errorf("user = %q, want %q", user, tt.wantUser)
			}
			if host != tt.wantHost {
				t.Errorf("host = %q, want %q", host, tt.wantHost)
			}
			if port != tt.wantPort {
				t.Errorf("port = %d, want %d", port, tt.wantPort)
			}
		})
	}
}

func TestParseDeviceIDInvalid(t *testing.T) {
	tests := map[string]string{
		"root@gw:0":    "port",
		"root@gw:http": "port",
		"Root@gw:22":   "invalid user",
		"root@":        "invalid host",
	}
	for id, want := range tests {
		t.Run(id, func(t *testing.T) {
			_, _, _, err := parseDeviceID(id, "root")
			if err == nil {
				t.Fatalf("parseDeviceID(%q) = nil error, want one containing %q", id, want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("parseDeviceID(%q) = %q, want it to contain %q", id, err, want)
			}
		})
	}
}
