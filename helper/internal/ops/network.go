package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/liblxc"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/network"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Network serves the operations on container networks.
type Network struct {
	// BootHook installs the unit that restores networks at boot.
	BootHook network.BootHook

	// StartContainer starts a stopped container daemonized and reports whether it started it.
	StartContainer func(lxcPath, name string) (bool, error)
}

// autostartTimeout bounds the wait for one autostart container to run.
const autostartTimeout = 30 * time.Second

// NewNetwork returns the network operations of the running device: the systemd boot hook and
// container starts through liblxc.
func NewNetwork() Network {
	return Network{BootHook: network.SystemdBootHook(), StartContainer: startIfStopped}
}

// startIfStopped starts the named container daemonized, as lxc-start does, and reports
// whether it started it. A running container is left alone.
func startIfStopped(lxcPath, name string) (bool, error) {
	container, err := liblxc.Open(lxcPath, name)
	if err != nil {
		return false, err
	}
	defer container.Close()

	if !container.Defined() {
		return false, fmt.Errorf("container %s has no configuration in %s", name, lxcPath)
	}
	if container.Running() {
		return false, nil
	}
	if err := container.Start(autostartTimeout); err != nil {
		return false, fmt.Errorf("container %s: %w; its log in %s/%s tells why", name, err, lxcPath, name)
	}
	return true, nil
}

// Register adds the network operations to registry.
func (n Network) Register(registry *server.Registry) {
	registry.Register(protocol.OpNetworkApply, n.apply)
	registry.Register(protocol.OpNetworkCheck, n.check)
	registry.Register(protocol.OpNetworkGet, n.get)
	registry.Register(protocol.OpNetworkDelete, n.delete)
	registry.Register(protocol.OpNetworkRestore, n.restore)
}

// manager returns the network manager for the request's state folder and LXC path.
func (n Network) manager(env *server.Env) network.Manager {
	return network.Manager{
		StateDir:       env.State.Path,
		LXCPath:        env.LXCPath,
		BootHook:       n.BootHook,
		StartContainer: n.StartContainer,
		Log:            env.Log,
	}
}

func (n Network) apply(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var spec protocol.NetworkSpec
	if err := server.DecodeParams(protocol.OpNetworkApply, params, &spec); err != nil {
		return nil, err
	}
	var result protocol.NetworkApplyResult
	err := env.State.WithExclusive(ctx, func() error {
		var err error
		result, err = n.manager(env).Apply(ctx, spec)
		return err
	})
	return result, err
}

func (n Network) check(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var spec protocol.NetworkSpec
	if err := server.DecodeParams(protocol.OpNetworkCheck, params, &spec); err != nil {
		return nil, err
	}
	var result protocol.NetworkCheckResult
	err := env.State.WithShared(ctx, func(bool) error {
		var err error
		result, err = n.manager(env).Check(spec)
		return err
	})
	return result, err
}

func (n Network) get(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var name protocol.NetworkName
	if err := server.DecodeParams(protocol.OpNetworkGet, params, &name); err != nil {
		return nil, err
	}
	var result protocol.NetworkState
	err := env.State.WithShared(ctx, func(bool) error {
		var err error
		result, err = n.manager(env).Get(ctx, name.Name)
		return err
	})
	return result, err
}

func (n Network) delete(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var name protocol.NetworkName
	if err := server.DecodeParams(protocol.OpNetworkDelete, params, &name); err != nil {
		return nil, err
	}
	var result protocol.NetworkDeleteResult
	err := env.State.WithExclusive(ctx, func() error {
		var err error
		result, err = n.manager(env).Delete(ctx, name.Name)
		return err
	})
	return result, err
}

func (n Network) restore(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	if err := server.NoParams(protocol.OpNetworkRestore, params); err != nil {
		return nil, err
	}
	var result protocol.NetworkRestoreResult
	err := env.State.WithExclusive(ctx, func() error {
		var err error
		result, err = n.manager(env).Restore(ctx)
		return err
	})
	return result, err
}
