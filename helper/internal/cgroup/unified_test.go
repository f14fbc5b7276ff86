package cgroup

import (
	"errors"
	"strings"
	"testing"
)

func TestParseUnifiedMountPoint(t *testing.T) {
	cases := map[string]struct {
		mountinfo string
		want      string
		wantErr   error
	}{
		"hybrid": {
			mountinfo: hybridMountinfo,
			want:      "/sys/fs/cgroup/unified",
		},
		"escaped path": {
			mountinfo: `30 23 0:26 / /mnt/cgroup\040two rw - cgroup2 cgroup2 rw` + "\n",
			want:      "/mnt/cgroup two",
		},
		"bind mount of a subtree is skipped": {
			mountinfo: "30 23 0:26 /lxc.payload.a /cg rw - cgroup2 cgroup2 rw\n" +
				"31 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
			want: "/sys/fs/cgroup",
		},
		"v1 only": {
			mountinfo: "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n",
			wantErr:   ErrNoUnified,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseUnifiedMountPoint(strings.NewReader(c.mountinfo))
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("error %v, want %v", err, c.wantErr)
			}
			if got != c.want {
				t.Errorf("mount point %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseUnifiedPath(t *testing.T) {
	cases := map[string]struct {
		content string
		want    string
		ok      bool
	}{
		"hybrid":  {content: "4:memory:/lxc.payload.web\n0::/lxc.payload.web/.lxc\n", want: "/lxc.payload.web/.lxc", ok: true},
		"v2 root": {content: "0::/\n", want: "/", ok: true},
		"v1 only": {content: "4:memory:/x\n1:cpu:/x\n"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := parseUnifiedPath(c.content)
			if ok != c.ok {
				t.Fatalf("found %v, want %v", ok, c.ok)
			}
			if got != c.want {
				t.Errorf("path %q, want %q", got, c.want)
			}
		})
	}
}
