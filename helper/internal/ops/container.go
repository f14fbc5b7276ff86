package ops

import (
	"context"
	"encoding/json"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/container"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Container serves the operations on containers and images.
type Container struct{}

// Register adds the container and image operations to registry.
func (Container) Register(registry *server.Registry) {
	registry.Register(protocol.OpContainerApply, containerApply)
	registry.Register(protocol.OpContainerGet, containerGet)
	registry.Register(protocol.OpContainerDelete, containerDelete)
	registry.Register(protocol.OpContainerExec, containerExec)
	registry.Register(protocol.OpImageImport, imageImport)
}

func containerApply(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var spec protocol.ContainerSpec
	if err := server.DecodeParams(protocol.OpContainerApply, params, &spec); err != nil {
		return nil, err
	}
	return container.Apply(ctx, env, spec)
}

func containerGet(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var name protocol.ContainerName
	if err := server.DecodeParams(protocol.OpContainerGet, params, &name); err != nil {
		return nil, err
	}
	return container.Get(ctx, env, name.Name)
}

func containerDelete(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var name protocol.ContainerName
	if err := server.DecodeParams(protocol.OpContainerDelete, params, &name); err != nil {
		return nil, err
	}
	return container.Delete(ctx, env, name.Name)
}

func containerExec(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var exec protocol.ExecParams
	if err := server.DecodeParams(protocol.OpContainerExec, params, &exec); err != nil {
		return nil, err
	}
	return container.Exec(ctx, env, exec)
}

func imageImport(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var image protocol.ImageImportParams
	if err := server.DecodeParams(protocol.OpImageImport, params, &image); err != nil {
		return nil, err
	}
	return container.ImportImage(ctx, env, image)
}
