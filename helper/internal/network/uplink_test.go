package network

import "testing"

func TestPickUplink(t *testing.T) {
	cases := []struct {
		name   string
		routes []defaultRoute
		want   string
		ok     bool
	}{
		{"none", nil, "", false},
		{"one", []defaultRoute{{link: "eth0", metric: 100}}, "eth0", true},
		{"lowest metric", []defaultRoute{{link: "eth0", metric: 600}, {link: "wwan0", metric: 50}}, "wwan0", true},
		{"tie by name", []defaultRoute{{link: "wlan0", metric: 0}, {link: "eth0", metric: 0}}, "eth0", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := pickUplink(tc.routes)

			if got != tc.want || ok != tc.ok {
				t.Errorf("pickUplink = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
