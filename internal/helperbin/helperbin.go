// Package helperbin bundles the on-device helper binaries into the provider.
//
// `make helpers` builds one helper per supported architecture into bin/. A provider built with
// plain `go build` and no helpers still compiles; it then reports at apply time that it bundles
// no helper for the device.
package helperbin

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
)

//go:embed all:bin
var files embed.FS

// Helper is one bundled helper binary.
type Helper struct {
	// GOARCH is the Go architecture the helper was built for ("amd64", "arm64", "arm").
	GOARCH string

	Binary []byte

	// SHA256 is the hex-encoded SHA-256 of Binary.
	SHA256 string
}

// unameToGOARCH maps the machine names that `uname -m` prints to Go architectures. The arm
// helper is built with GOARM=7, so it serves ARMv7 and the 32-bit mode of ARMv8 cores.
var unameToGOARCH = map[string]string{
	"x86_64":  "amd64",
	"amd64":   "amd64",
	"aarch64": "arm64",
	"arm64":   "arm64",
	"armv7l":  "arm",
	"armv8l":  "arm",
}

var (
	loadOnce sync.Once
	helpers  map[string]Helper
)

func load() {
	helpers = make(map[string]Helper)
	entries, err := fs.ReadDir(files, "bin")
	if err != nil {
		return
	}
	for _, entry := range entries {
		goarch, ok := strings.CutPrefix(entry.Name(), "iotfleet-helper-linux-")
		if !ok {
			continue
		}
		binary, err := fs.ReadFile(files, "bin/"+entry.Name())
		if err != nil {
			continue
		}
		sum := sha256.Sum256(binary)
		helpers[goarch] = Helper{GOARCH: goarch, Binary: binary, SHA256: hex.EncodeToString(sum[:])}
	}
}

// ForMachine returns the bundled helper for a device whose `uname -m` prints machine.
func ForMachine(machine string) (Helper, error) {
	loadOnce.Do(load)
	goarch, known := unameToGOARCH[machine]
	if helper, ok := helpers[goarch]; known && ok {
		return helper, nil
	}
	bundled := Machines()
	if len(bundled) == 0 {
		return Helper{}, fmt.Errorf("this provider build bundles no helper binaries; build it with `make build`, which cross-builds them first")
	}
	return Helper{}, fmt.Errorf("no helper is bundled for device architecture %q; this provider bundles helpers for %s", machine, strings.Join(bundled, ", "))
}

// Machines lists the `uname -m` names that a bundled helper serves, sorted.
func Machines() []string {
	loadOnce.Do(load)
	var machines []string
	for machine, goarch := range unameToGOARCH {
		if _, ok := helpers[goarch]; ok {
			machines = append(machines, machine)
		}
	}
	sort.Strings(machines)
	return machines
}
