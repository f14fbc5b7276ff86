package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/network"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// restoreNetworks runs the network.restore operation for the state folder and LXC path in
// args, as the boot hook does, and writes the response to stdout. Unlike serve, it exits 1
// when the operation fails, so the init system reports the failure.
func restoreNetworks(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintf(stderr, "usage: iotfleet-helper %s STATE_DIR LXC_PATH\n", network.RestoreCommand)
		return 2
	}
	request, err := json.Marshal(protocol.Request{
		Version:  protocol.Version,
		StateDir: args[0],
		LXCPath:  args[1],
		Calls:    []protocol.Call{{ID: 1, Op: protocol.OpNetworkRestore}},
	})
	if err != nil {
		fmt.Fprintf(stderr, "iotfleet-helper: encode restore request: %v\n", err)
		return 1
	}

	var output bytes.Buffer
	if code := serve(bytes.NewReader(request), &output, stderr); code != 0 {
		return code
	}
	if _, err := stdout.Write(output.Bytes()); err != nil {
		return 1
	}
	var response protocol.Response
	if err := json.Unmarshal(output.Bytes(), &response); err != nil {
		fmt.Fprintf(stderr, "iotfleet-helper: decode restore response: %v\n", err)
		return 1
	}
	if response.Error != nil {
		fmt.Fprintf(stderr, "iotfleet-helper: restore rejected: %v\n", response.Error)
		return 1
	}
	for _, result := range response.Results {
		if result.Error != nil {
			fmt.Fprintf(stderr, "iotfleet-helper: restore failed: %v\n", result.Error)
			return 1
		}
	}
	return 0
}
