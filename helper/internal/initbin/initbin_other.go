//go:build !amd64 && !arm64 && !arm

package initbin

import "embed"

// files is empty: the helper supports no init for this architecture.
var files embed.FS
