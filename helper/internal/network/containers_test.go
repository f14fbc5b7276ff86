package network

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeContainer creates lxcPath/name/config with content.
func writeContainer(t *testing.T, lxcPath, name, content string) {
	t.Helper()
	dir := filepath.Join(lxcPath, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestContainersLinkedTo(t *testing.T) {
	lxcPath := t.TempDir()
	writeContainer(t, lxcPath, "web", "lxc.net.0.type = veth\nlxc.net.0.link = lan0\n")
	writeContainer(t, lxcPath, "db", "lxc.net.0.link=lan1\nlxc.net.1.link   =   lan0  \n")
	writeContainer(t, lxcPath, "other", "lxc.net.0.link = lan01\n# lxc.net.1.link = lan0\n")
	writeContainer(t, lxcPath, "empty", "lxc.net.0.type = empty\n")
	if err := os.MkdirAll(filepath.Join(lxcPath, "noconfig"), 0o755); err != nil {
		t.Fatal(err)
	}

	got, err := containersLinkedTo(lxcPath, "lan0")

	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"db", "web"}; !slices.Equal(got, want) {
		t.Errorf("containersLinkedTo(lan0) = %q, want %q", got, want)
	}
}

func TestContainersLinkedToMissingPath(t *testing.T) {
	got, err := containersLinkedTo(filepath.Join(t.TempDir(), "missing"), "lan0")

	if err != nil || len(got) != 0 {
		t.Errorf("containersLinkedTo on a missing path = %q, %v; want nothing", got, err)
	}
}

func TestAutostartContainers(t *testing.T) {
	lxcPath := t.TempDir()
	writeContainer(t, lxcPath, "late", "lxc.start.auto = 1\nlxc.start.order = 20\n")
	writeContainer(t, lxcPath, "early", "lxc.start.auto = 1\nlxc.start.order = -5\n")
	writeContainer(t, lxcPath, "b-default", "lxc.start.auto = 1\n")
	writeContainer(t, lxcPath, "a-default", "lxc.start.auto = 1\n")
	writeContainer(t, lxcPath, "manual", "lxc.start.auto = 0\n")
	writeContainer(t, lxcPath, "switched-off", "lxc.start.auto = 1\nlxc.start.auto = 0\n")

	got, err := autostartContainers(lxcPath)

	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"early", "a-default", "b-default", "late"}; !slices.Equal(got, want) {
		t.Errorf("autostartContainers = %q, want %q", got, want)
	}
}
