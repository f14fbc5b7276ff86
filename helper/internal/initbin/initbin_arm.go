//go:build arm

package initbin

import "embed"

// files holds bin/arm/iotfleet-init.gz when `make helpers` has built it.
//
//go:embed all:bin/arm
var files embed.FS
