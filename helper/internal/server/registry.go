package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/state"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Env carries the request-wide values that every handler gets next to its params. All calls of
// one request share it.
type Env struct {
	// HelperVersion is the release of the running helper.
	HelperVersion string

	// State is the request's state folder, already validated.
	State state.Dir

	// LXCPath is the request's LXC path, already validated.
	LXCPath string

	// Log writes diagnostics to standard error.
	Log *slog.Logger
}

// Handler runs one operation. It returns a value that encodes to the operation's result
// document, or an error; a *protocol.Error keeps its code, and any other error is
// CodeInternal.
type Handler func(ctx context.Context, env *Env, params json.RawMessage) (any, error)

// Registry maps operation names to handlers.
type Registry struct {
	handlers map[string]Handler
}

func NewRegistry() *Registry {
	return &Registry{handlers: make(map[string]Handler)}
}

// Register adds the handler for op. It panics when op is empty or already registered, because
// both are programming errors.
func (r *Registry) Register(op string, handler Handler) {
	if op == "" || handler == nil {
		panic("server: register needs an operation name and a handler")
	}
	if _, ok := r.handlers[op]; ok {
		panic(fmt.Sprintf("server: operation %q registered twice", op))
	}
	r.handlers[op] = handler
}

// Ops lists the registered operations, sorted.
func (r *Registry) Ops() []string {
	ops := make([]string, 0, len(r.handlers))
	for op := range r.handlers {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

// DecodeParams decodes the parameters of op into v, rejecting unknown fields, and returns a
// CodeInvalid error on failure.
func DecodeParams(op string, params json.RawMessage, v any) error {
	trimmed := bytes.TrimSpace(params)
	if len(trimmed) == 0 {
		return protocol.Errorf(protocol.CodeInvalid, "%s needs params, the call has none", op)
	}
	// params comes from a decoded request, so it holds exactly one JSON value.
	decoder := json.NewDecoder(bytes.NewReader(trimmed))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(v); err != nil {
		return protocol.Errorf(protocol.CodeInvalid, "invalid params for %s: %v", op, err)
	}
	return nil
}

// NoParams returns a CodeInvalid error unless params is absent, null or an empty object.
func NoParams(op string, params json.RawMessage) error {
	trimmed := bytes.TrimSpace(params)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil || len(fields) != 0 {
		return protocol.Errorf(protocol.CodeInvalid, "%s takes no params, got %s", op, truncate(trimmed, 80))
	}
	return nil
}

// truncate shortens data to at most limit bytes and an ellipsis, for an error message.
func truncate(data []byte, limit int) string {
	if len(data) <= limit {
		return string(data)
	}
	return string(data[:limit]) + "..."
}
