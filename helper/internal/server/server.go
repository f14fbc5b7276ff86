// Package server reads one protocol.Request, runs its calls through the registered handlers in
// order and builds the protocol.Response.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/state"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Server serves requests with the handlers of Registry.
type Server struct {
	Registry *Registry

	// HelperVersion is the release reported in every response.
	HelperVersion string

	// LockTimeout bounds each wait for the state folder's lock; zero means
	// state.DefaultLockTimeout.
	LockTimeout time.Duration

	// Log receives diagnostics. They never go to the response stream.
	Log *slog.Logger
}

// Serve reads one request from in and writes one response to out. It returns an error only
// when the response could not be written; failures of the request or its calls travel inside
// the response.
func (s *Server) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	response := s.Handle(ctx, in)
	if err := json.NewEncoder(out).Encode(response); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	return nil
}

// Handle reads one request from in and runs its calls.
func (s *Server) Handle(ctx context.Context, in io.Reader) protocol.Response {
	response := protocol.Response{Version: protocol.Version, HelperVersion: s.HelperVersion}

	request, err := readRequest(in)
	if err != nil {
		s.Log.Warn("request rejected", "code", err.Code, "error", err.Message)
		response.Error = err
		return response
	}

	env := &Env{
		HelperVersion: s.HelperVersion,
		State:         state.Dir{Path: request.StateDir, LockTimeout: s.LockTimeout},
		LXCPath:       request.LXCPath,
		Log:           s.Log,
	}
	response.Results = make([]protocol.Result, 0, len(request.Calls))
	for _, call := range request.Calls {
		response.Results = append(response.Results, s.runCall(ctx, env, call))
	}
	return response
}

// readRequest decodes and validates one request, reading at most protocol.MaxRequestBytes.
func readRequest(in io.Reader) (protocol.Request, *protocol.Error) {
	data, err := io.ReadAll(io.LimitReader(in, protocol.MaxRequestBytes+1))
	if err != nil {
		return protocol.Request{}, protocol.Errorf(protocol.CodeInternal, "read request: %v", err)
	}
	if len(data) > protocol.MaxRequestBytes {
		return protocol.Request{}, protocol.Errorf(protocol.CodeInvalid,
			"request is larger than the limit of %d MiB; split its calls into several requests",
			protocol.MaxRequestBytes>>20)
	}

	// Check the version before the rest, so that a request from another protocol version is
	// reported as such even when its other fields no longer decode.
	var header struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &header); err != nil {
		return protocol.Request{}, protocol.Errorf(protocol.CodeInvalid, "malformed request: %v", err)
	}
	if header.Version == nil {
		return protocol.Request{}, protocol.Errorf(protocol.CodeInvalid, "request has no version field")
	}
	if *header.Version != protocol.Version {
		return protocol.Request{}, protocol.Errorf(protocol.CodeUnsupportedVersion,
			"request uses protocol version %d but this helper speaks version %d; "+
				"install the helper that ships with the provider", *header.Version, protocol.Version)
	}

	var request protocol.Request
	if err := json.Unmarshal(data, &request); err != nil {
		return protocol.Request{}, protocol.Errorf(protocol.CodeInvalid, "malformed request: %v", err)
	}
	if err := validateRequest(request); err != nil {
		return protocol.Request{}, err
	}
	return request, nil
}

// validateRequest checks the paths and that call IDs are unique.
func validateRequest(request protocol.Request) *protocol.Error {
	if err := ValidatePath("state_dir", request.StateDir); err != nil {
		return err
	}
	if err := ValidatePath("lxc_path", request.LXCPath); err != nil {
		return err
	}
	seen := make(map[int]bool, len(request.Calls))
	for _, call := range request.Calls {
		if seen[call.ID] {
			return protocol.Errorf(protocol.CodeInvalid,
				"call id %d appears more than once; give each call its own id", call.ID)
		}
		seen[call.ID] = true
	}
	return nil
}

// runCall runs one call and turns its outcome into a Result.
func (s *Server) runCall(ctx context.Context, env *Env, call protocol.Call) protocol.Result {
	result := protocol.Result{ID: call.ID}
	data, err := s.dispatch(ctx, env, call)
	if err != nil {
		result.Error = toProtocolError(err)
		s.Log.Warn("call failed",
			"id", call.ID, "op", call.Op, "code", result.Error.Code, "error", result.Error.Message)
		return result
	}
	result.Data = data
	return result
}

// dispatch looks up the handler for call, runs it and encodes its result.
func (s *Server) dispatch(ctx context.Context, env *Env, call protocol.Call) (json.RawMessage, error) {
	handler, ok := s.Registry.handlers[call.Op]
	if !ok {
		return nil, protocol.Errorf(protocol.CodeUnknownOp, "unknown operation %q; helper %s supports %s",
			call.Op, s.HelperVersion, strings.Join(s.Registry.Ops(), ", "))
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s not run: helper interrupted: %w", call.Op, context.Cause(ctx))
	}

	value, err := runHandler(ctx, env, call, handler)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("encode %s result: %w", call.Op, err)
	}
	return data, nil
}

// runHandler calls handler and turns a panic into an error, so that one faulty operation still
// yields a response for the whole request.
func runHandler(ctx context.Context, env *Env, call protocol.Call, handler Handler) (value any, err error) {
	defer func() {
		if recovered := recover(); recovered != nil {
			env.Log.Error("operation panicked",
				"id", call.ID, "op", call.Op, "panic", recovered, "stack", string(debug.Stack()))
			err = fmt.Errorf("%s panicked: %v", call.Op, recovered)
		}
	}()
	return handler(ctx, env, call.Params)
}

// toProtocolError keeps the code of a *protocol.Error anywhere in err's chain; any other
// error is CodeInternal.
func toProtocolError(err error) *protocol.Error {
	var protocolErr *protocol.Error
	if !errors.As(err, &protocolErr) {
		return &protocol.Error{Code: protocol.CodeInternal, Message: err.Error()}
	}
	if error(protocolErr) == err {
		return protocolErr
	}
	return &protocol.Error{Code: protocolErr.Code, Message: err.Error()}
}
