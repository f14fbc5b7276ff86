//go:build linux && cgo

package liblxc

import (
	"regexp"
	"testing"
)

func TestVersion(t *testing.T) {
	version, err := Version()
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	// liblxc versions look like "5.0.2", or "6.0.0 (devel)" for development builds.
	if !regexp.MustCompile(`^\d+\.\d+(\.\d+)?( \(devel\))?$`).MatchString(version) {
		t.Errorf("Version = %q, want a dotted version number", version)
	}
}
