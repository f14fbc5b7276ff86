package cgroup

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRenamedFindsOnlyEmptyNumberedCgroups(t *testing.T) {
	root := t.TempDir()
	for dir, procs := range map[string]string{
		"lxc.payload.web":              "",
		"lxc.payload.web-1":            "",
		"lxc.payload.web-1/init":       "",
		"lxc.monitor.web-2":            "",
		"user.slice/lxc.payload.web-3": "",
		"lxc.payload.web-4":            "4242\n",
		"lxc.payload.web-5":            "",
		"lxc.payload.web-5/inner":      "4343\n",
		"lxc.payload.web-api":          "",
		"lxc.payload.web-":             "",
		"lxc.payload.web-7":            "",
	} {
		path := filepath.Join(root, dir)
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(path, "cgroup.procs"), []byte(procs), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	defined := func(name string) bool { return name == "web-7" }

	got, err := renamedIn([]string{root}, "web", defined)
	if err != nil {
		t.Fatalf("renamedIn: %v", err)
	}
	want := []string{
		filepath.Join(root, "lxc.monitor.web-2"),
		filepath.Join(root, "lxc.payload.web-1"),
		filepath.Join(root, "user.slice/lxc.payload.web-3"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("renamedIn = %v\nwant %v", got, want)
	}
}

func TestNumberedName(t *testing.T) {
	for _, tc := range []struct {
		renamed string
		want    bool
	}{
		{"web-1", true},
		{"web-12", true},
		{"web", false},
		{"web-", false},
		{"web-1a", false},
		{"web-api-1", false},
		{"webx-1", false},
	} {
		if got := numberedName("web", tc.renamed); got != tc.want {
			t.Errorf("numberedName(web, %q) = %v, want %v", tc.renamed, got, tc.want)
		}
	}
}
