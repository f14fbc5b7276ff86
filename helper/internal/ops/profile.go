package ops

import (
	"context"
	"encoding/json"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/profile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Profile serves the operations on seccomp profiles.
type Profile struct{}

// Register adds the profile operations to registry.
func (Profile) Register(registry *server.Registry) {
	registry.Register(protocol.OpProfilePut, profilePut)
	registry.Register(protocol.OpProfileGet, profileGet)
	registry.Register(protocol.OpProfileDelete, profileDelete)
}

func profileStore(env *server.Env) profile.Store {
	return profile.Store{State: env.State, LXCPath: env.LXCPath}
}

func profilePut(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var p protocol.ProfilePutParams
	if err := server.DecodeParams(protocol.OpProfilePut, params, &p); err != nil {
		return nil, err
	}
	result, err := profileStore(env).Put(ctx, p)
	if err != nil {
		return nil, err
	}
	if len(result.KeptVersions) > 0 {
		env.Log.Info("kept profile versions that containers still use",
			"profile", p.Name, "versions", len(result.KeptVersions))
	}
	return result, nil
}

func profileGet(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var p protocol.ProfileName
	if err := server.DecodeParams(protocol.OpProfileGet, params, &p); err != nil {
		return nil, err
	}
	result, err := profileStore(env).Get(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	for _, problem := range result.Problems {
		env.Log.Warn("profile is damaged", "profile", p.Name, "problem", problem)
	}
	return result, nil
}

func profileDelete(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var p protocol.ProfileName
	if err := server.DecodeParams(protocol.OpProfileDelete, params, &p); err != nil {
		return nil, err
	}
	return profileStore(env).Delete(ctx, p.Name)
}
