package protocol

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseNetworkCIDR(t *testing.T) {
	cases := []struct {
		cidr    string
		wantErr string
	}{
		{"10.80.0.1/24", ""},
		{"192.168.7.129/25", ""},
		{"10.80.0.2/30", ""},
		{"10.80.0.1", "prefix length"},
		{"10.80.0.1/33", "prefix length"},
		{"10.80.0.256/24", "prefix length"},
		{"fd00::1/64", "IPv4"},
		{"10.80.0.0/24", "network address"},
		{"10.80.0.255/24", "broadcast address"},
		{"10.80.0.1/31", "from /8 to /30"},
		{"10.0.0.1/7", "from /8 to /30"},
		{"127.0.0.1/8", "reserved"},
		{"169.254.3.1/16", "reserved"},
		{"224.0.0.1/24", "reserved"},
	}
	for _, tc := range cases {
		t.Run(tc.cidr, func(t *testing.T) {
			gateway, err := ParseNetworkCIDR(tc.cidr)

			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if gateway.String() != tc.cidr {
					t.Errorf("gateway = %s, want %s with its host bits", gateway, tc.cidr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestBroadcastAddress(t *testing.T) {
	cases := map[string]string{
		"10.80.0.0/24":     "10.80.0.255",
		"192.168.7.128/25": "192.168.7.255",
		"10.0.0.0/8":       "10.255.255.255",
		"10.80.0.4/30":     "10.80.0.7",
	}
	for prefix, want := range cases {
		if got := BroadcastAddress(netip.MustParsePrefix(prefix)); got.String() != want {
			t.Errorf("BroadcastAddress(%s) = %s, want %s", prefix, got, want)
		}
	}
}

func TestValidateNetworkName(t *testing.T) {
	for _, name := range []string{"lan0", "a", "iot-fleet-net15"} {
		if err := ValidateNetworkName(name); err != nil {
			t.Errorf("ValidateNetworkName(%q): %v", name, err)
		}
	}
	for _, name := range []string{"", "0lan", "Lan0", "lan_0", "iot-fleet-net-16", "lan0 ", "lan/0"} {
		if err := ValidateNetworkName(name); err == nil {
			t.Errorf("ValidateNetworkName(%q) accepted it", name)
		}
	}
}

func TestValidateInterfaceName(t *testing.T) {
	for _, name := range []string{"eth0", "wlan0", "br-lan", "eth0.100", "enp0s31f6"} {
		if err := ValidateInterfaceName(name); err != nil {
			t.Errorf("ValidateInterfaceName(%q): %v", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "eth 0", `eth"0`, "a/b", "averylonginterface"} {
		if err := ValidateInterfaceName(name); err == nil {
			t.Errorf("ValidateInterfaceName(%q) accepted it", name)
		}
	}
}

func TestNetworkSpecValidate(t *testing.T) {
	valid := NetworkSpec{Name: "lan0", Mode: NetworkModeNAT, IPv4CIDR: "10.80.0.1/24", Uplink: "eth0", MTU: 1500}
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	cases := map[string]func(*NetworkSpec){
		"bad mode":           func(s *NetworkSpec) { s.Mode = "routed" },
		"uplink for bridge":  func(s *NetworkSpec) { s.Mode = NetworkModeBridge },
		"bad uplink":         func(s *NetworkSpec) { s.Uplink = "eth 0" },
		"mtu too small":      func(s *NetworkSpec) { s.MTU = 67 },
		"mtu too large":      func(s *NetworkSpec) { s.MTU = 65536 },
		"name too long":      func(s *NetworkSpec) { s.Name = "network-name-xyz" },
		"gateway is network": func(s *NetworkSpec) { s.IPv4CIDR = "10.80.0.0/24" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			spec := valid
			mutate(&spec)
			if err := spec.Validate(); err == nil {
				t.Errorf("Validate accepted %+v", spec)
			}
		})
	}
}
