package provider

import (
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
)

func TestParseContainerID(t *testing.T) {
	tests := []struct {
		id               string
		user, host, name string
		port             int
	}{
		{"root@10.0.0.2:22/web", "root", "10.0.0.2", "web", 22},
		{"ops@gw.example.com:2222/sensor-reader", "ops", "gw.example.com", "sensor-reader", 2222},
		{"root@[2001:db8::10]:22/web", "root", "2001:db8::10", "web", 22},
		{"gw.example.com/web", "admin", "gw.example.com", "web", 22},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			user, host, port, name, err := parseContainerID(tt.id, "admin")
			if err != nil {
				t.Fatalf("parseContainerID(%q) error: %v", tt.id, err)
			}
			if user != tt.user || host != tt.host || port != tt.port || name != tt.name {
				t.Errorf("parseContainerID(%q) = %q, %q, %d, %q; want %q, %q, %d, %q",
					tt.id, user, host, port, name, tt.user, tt.host, tt.port, tt.name)
			}
		})
	}
}

func TestParseContainerIDInvalid(t *testing.T) {
	tests := map[string]string{
		"root@10.0.0.2:22":      "container name is missing",
		"root@10.0.0.2:22/":     "invalid container name",
		"root@10.0.0.2:22/../x": "invalid container name",
		"root@10.0.0.2:22/a b":  "invalid container name",
		"root@10.0.0.2:0/web":   "port",
		"Root@10.0.0.2:22/web":  "invalid user",
		"/web":                  "invalid host",
	}
	for id, want := range tests {
		t.Run(id, func(t *testing.T) {
			_, _, _, _, err := parseContainerID(id, "root")
			if err == nil {
				t.Fatalf("parseContainerID(%q) = nil error, want one containing %q", id, want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("parseContainerID(%q) = %q, want it to contain %q", id, err, want)
			}
		})
	}
}

func TestContainerIDRoundTrip(t *testing.T) {
	target := device.Target{Host: "2001:db8::10", Port: 2222, User: "ops"}
	id := containerID(target, "web")
	if id != "ops@[2001:db8::10]:2222/web" {
		t.Fatalf("containerID = %q, want ops@[2001:db8::10]:2222/web", id)
	}
	user, host, port, name, err := parseContainerID(id, "root")
	if err != nil || user != target.User || host != target.Host || port != target.Port || name != "web" {
		t.Errorf("parseContainerID(%q) = %q, %q, %d, %q, %v; want the target back", id, user, host, port, name, err)
	}
}
