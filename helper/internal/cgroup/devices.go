package cgroup

import "fmt"

// AllowedDevices are the only device nodes a container may open: null, zero, full, random,
// urandom, tty, ptmx and the pseudo-terminals of its own devpts. LXC's autodev creates the
// same set in the container's /dev.
var AllowedDevices = []string{
	"c 1:3 rwm",   // null
	"c 1:5 rwm",   // zero
	"c 1:7 rwm",   // full
	"c 1:8 rwm",   // random
	"c 1:9 rwm",   // urandom
	"c 5:0 rwm",   // tty
	"c 5:2 rwm",   // ptmx
	"c 136:* rwm", // pts
}

// DeviceSettings returns the deny-all rule followed by the allow list, for the hierarchy of
// the devices controller. It fails when the layout has no device controller at all.
func DeviceSettings(layout Layout) ([]Setting, error) {
	version := layout.Where(Devices)
	if version == Missing {
		return nil, fmt.Errorf("the devices cgroup controller is not available on this device (%s), "+
			"so device access cannot be restricted", layout)
	}
	settings := []Setting{{version, "devices.deny", "a"}}
	for _, rule := range AllowedDevices {
		settings = append(settings, Setting{version, "devices.allow", rule})
	}
	return settings, nil
}
