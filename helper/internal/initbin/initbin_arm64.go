//go:build arm64

package initbin

import "embed"

// files holds bin/arm64/iotfleet-init.gz when `make helpers` has built it.
//
//go:embed all:bin/arm64
var files embed.FS
