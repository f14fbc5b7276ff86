//go:build linux

package localdevice

import (
	"net/netip"
	"testing"
)

func mustAddr(s string) netip.Addr {
	return netip.MustParseAddr(s)
}

func TestFirstFreeSubnet(t *testing.T) {
	tests := []struct {
		name string
		used []string
		want string
	}{
		{"nothing used", nil, "10.213.1.0/24"},
		{"default route ignored", []string{"0.0.0.0/0", "192.0.2.0/24"}, "10.213.1.0/24"},
		{"first taken", []string{"10.213.1.0/24"}, "10.213.2.0/24"},
		{"single address", []string{"10.213.1.77/32", "10.213.2.5/32"}, "10.213.3.0/24"},
		{"wider route", []string{"10.213.0.0/22"}, "10.213.4.0/24"},
		{"other block", []string{"10.212.0.0/16", "10.214.1.0/24"}, "10.213.1.0/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var used []netip.Prefix
			for _, s := range tt.used {
				used = append(used, netip.MustParsePrefix(s))
			}
			got, ok := firstFreeSubnet(used)
			if !ok || got.String() != tt.want {
				t.Errorf("firstFreeSubnet(%v) = %v, %v; want %s", tt.used, got, ok, tt.want)
			}
		})
	}
}

func TestFirstFreeSubnetExhausted(t *testing.T) {
	for _, used := range []string{"10.0.0.0/8", "10.213.0.0/16"} {
		if got, ok := firstFreeSubnet([]netip.Prefix{netip.MustParsePrefix(used)}); ok {
			t.Errorf("firstFreeSubnet(%s) = %v, want none", used, got)
		}
	}
}

func TestParseAddrJSON(t *testing.T) {
	data := []byte(`[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
		{"ifindex":4,"ifname":"eth0","addr_info":[{"family":"inet","local":"192.0.2.2","prefixlen":24}]},
		{"ifindex":5,"ifname":"down","addr_info":[]}]`)
	got, err := parseAddrJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.0/8", "192.0.2.0/24"}
	if len(got) != len(want) {
		t.Fatalf("parseAddrJSON = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("parseAddrJSON[%d] = %v, want %s", i, got[i], want[i])
		}
	}
}

func TestParseRouteJSON(t *testing.T) {
	data := []byte(`[{"dst":"default","gateway":"192.0.2.1","dev":"eth0"},
		{"dst":"192.0.2.0/24","dev":"eth0"},
		{"type":"local","dst":"192.0.2.2","dev":"eth0","table":"local"}]`)
	got, err := parseRouteJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0.0.0.0/0", "192.0.2.0/24", "192.0.2.2/32"}
	if len(got) != len(want) {
		t.Fatalf("parseRouteJSON = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("parseRouteJSON[%d] = %v, want %s", i, got[i], want[i])
		}
	}
}

func TestParseRouteJSONRejectsGarbage(t *testing.T) {
	if _, err := parseRouteJSON([]byte(`[{"dst":"not-an-address"}]`)); err == nil {
		t.Error("parseRouteJSON accepted an invalid destination")
	}
}
