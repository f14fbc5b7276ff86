package ops

import (
	"context"
	"encoding/json"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/record"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Recording serves the operations on syscall recordings.
type Recording struct{}

// Register adds the recording operations to registry.
func (Recording) Register(registry *server.Registry) {
	registry.Register(protocol.OpRecordingRun, recordingRun)
	registry.Register(protocol.OpRecordingGet, recordingGet)
	registry.Register(protocol.OpRecordingDelete, recordingDelete)
}

func recordingRun(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	var p protocol.RecordingRunParams
	if err := server.DecodeParams(protocol.OpRecordingRun, params, &p); err != nil {
		return nil, err
	}
	return record.Run(ctx, env, p)
}

func recordingGet(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	name, err := decodeRecordingName(protocol.OpRecordingGet, params)
	if err != nil {
		return nil, err
	}
	var state protocol.RecordingState
	err = env.State.WithShared(ctx, func(exists bool) error {
		if !exists {
			return protocol.Errorf(protocol.CodeNotFound, "recording %q does not exist on the device; "+
				"run it first", name)
		}
		state, err = record.Store{StateDir: env.State.Path}.Read(name)
		return err
	})
	return state, err
}

func recordingDelete(ctx context.Context, env *server.Env, params json.RawMessage) (any, error) {
	name, err := decodeRecordingName(protocol.OpRecordingDelete, params)
	if err != nil {
		return nil, err
	}
	var result protocol.RecordingDeleteResult
	err = env.State.WithShared(ctx, func(exists bool) error {
		if !exists {
			return nil
		}
		return record.Store{StateDir: env.State.Path}.WithLock(ctx, env.State.LockTimeout, name, func() error {
			result.Deleted, err = record.Store{StateDir: env.State.Path}.Delete(name)
			return err
		})
	})
	return result, err
}

func decodeRecordingName(op string, params json.RawMessage) (string, error) {
	var p protocol.RecordingName
	if err := server.DecodeParams(op, params, &p); err != nil {
		return "", err
	}
	if err := protocol.ValidateRecordingName(p.Name); err != nil {
		return "", protocol.Errorf(protocol.CodeInvalid, "%v", err)
	}
	return p.Name, nil
}
