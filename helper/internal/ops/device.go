// Package ops holds the handlers of the helper's operations. Each handler decodes its params,
// calls the package that does the work and returns the result document.
package ops

import (
	"context"
	"encoding/json"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/facts"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Device serves the operations on the device as a whole.
type Device struct {
	// Facts is the host that the facts operation reads.
	Facts facts.Host
}

// Register adds the device operations to registry.
func (d Device) Register(registry *server.Registry) {
	registry.Register(protocol.OpHello, hello)
	registry.Register(protocol.OpFacts, d.facts)
	registry.Register(protocol.OpInventory, inventory)
	registry.Register(protocol.OpUninstall, uninstall)
}

func hello(_ context.Context, env *server.Env, params json.RawMessage) (any, error) {
	if err := server.NoParams(protocol.OpHello, params); err != nil {
		return nil, err
	}
	return protocol.HelloResult{HelperVersion: env.HelperVersion, ProtocolVersion: protocol.Version}, nil
}

func (d Device) facts(_ context.Context, _ *server.Env, params json.RawMessage) (any, error) {
	if err := server.NoParams(protocol.OpFacts, params); err != nil {
		return nil, err
	}
	return d.Facts.Collect()
}

func inventory(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	if err := server.NoParams(protocol.OpInventory, params); err != nil {
		return nil, err
	}
	return env.State.Inventory(ctx)
}

func uninstall(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	if err := server.NoParams(protocol.OpUninstall, params); err != nil {
		return nil, err
	}
	return env.State.Uninstall(ctx)
}
