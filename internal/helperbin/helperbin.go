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
	mu sync.Mutex

	// loaded caches the helpers read so far, by GOARCH. Each is read and hashed on first use
	// only, because together they weigh about 18 MB and a device needs one of them.
	loaded = make(map[string]Helper)
)

func fileName(goarch string) string {
	return "bin/iotfleet-helper-linux-" + goarch
}

// load returns the bundled helper for goarch, reading it on first use.
func load(goarch string) (Helper, bool) {
	mu.Lock()
	defer mu.Unlock()
	if helper, ok := loaded[goarch]; ok {
		return helper, true
	}
	binary, err := fs.ReadFile(files, fileName(goarch))
	if err != nil {
		return Helper{}, false
	}
	sum := sha256.Sum256(binary)
	helper := Helper{GOARCH: goarch, Binary: binary, SHA256: hex.EncodeToString(sum[:])}
	loaded[goarch] = helper
	return helper, true
}

// bundled reports whether a helper for goarch is embedded, without reading it.
func bundled(goarch string) bool {
	_, err := fs.Stat(files, fileName(goarch))
	return err == nil
}

// ForMachine returns the bundled helper for a device whose `uname -m` prints machine.
func ForMachine(machine string) (Helper, error) {
	if goarch, known := unameToGOARCH[machine]; known {
		if helper, ok := load(goarch); ok {
			return helper, nil
		}
	}
	machines := Machines()
	if len(machines) == 0 {
		return Helper{}, fmt.Errorf("this provider build bundles no helper binaries; build it with `make build`, which cross-builds them first")
	}
	return Helper{}, fmt.Errorf("no helper is bundled for device architecture %q; this provider bundles helpers for %s", machine, strings.Join(machines, ", "))
}

// Machines lists the `uname -m` names that a bundled helper serves, sorted.
func Machines() []string {
	var machines []string
	for machine, goarch := range unameToGOARCH {
		if bundled(goarch) {
			machines = append(machines, machine)
		}
	}
	sort.Strings(machines)
	return machines
}
