//go:build amd64

package initbin

import "embed"

// files holds bin/amd64/iotfleet-init.gz when `make helpers` has built it.
//
//go:embed all:bin/amd64
var files embed.FS
