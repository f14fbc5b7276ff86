// Package protocol defines the messages that the provider and the on-device helper exchange.
//
// The provider starts the helper with one fixed command line ("<helper> serve") over an SSH exec
// channel, writes one Request as JSON to its standard input and closes it; the helper writes one
// Response as JSON to its standard output and exits. No value taken from the user is ever part of
// that command line: every parameter travels inside the JSON document.
//
// A Request carries a small batch of calls that the helper runs in order. Each call gets its own
// Result, so one failed call does not hide the outcome of the others.
package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Version is the protocol version that this package speaks. The helper rejects a request of any
// other version with CodeUnsupportedVersion, so a provider and a helper from different releases
// fail loudly instead of misreading each other. Bump it on any incompatible change.
const Version = 1

// ServeCommand is the argument that makes the helper read one request from standard input.
const ServeCommand = "serve"

// Request is one document sent to the helper.
type Request struct {
	Version int `json:"version"`

	// StateDir is the folder on the device where the helper keeps its own files (absolute path).
	StateDir string `json:"state_dir"`

	// LXCPath is the LXC path on the device that containers live in (absolute path).
	LXCPath string `json:"lxc_path"`

	Calls []Call `json:"calls"`
}

// Call is one operation inside a Request.
type Call struct {
	ID     int             `json:"id"`
	Op     string          `json:"op"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Response is the one document the helper writes back.
type Response struct {
	Version int `json:"version"`

	// HelperVersion is the release of the helper that served the request.
	HelperVersion string `json:"helper_version"`

	// Error is set when the request as a whole could not be served, for example because of a
	// protocol version mismatch or malformed JSON. Results is then empty.
	Error *Error `json:"error,omitempty"`

	Results []Result `json:"results,omitempty"`
}

// Result is the outcome of the call with the same ID.
type Result struct {
	ID    int             `json:"id"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error *Error          `json:"error,omitempty"`
}

// Code classifies a helper error so that callers can act on it without parsing messages.
type Code string

const (
	CodeNotFound           Code = "not_found"
	CodeInvalid            Code = "invalid"
	CodeConflict           Code = "conflict"
	CodeInternal           Code = "internal"
	CodeUnsupportedVersion Code = "unsupported_version"
	CodeUnknownOp          Code = "unknown_op"
)

// Sentinel errors that an *Error matches with errors.Is, one for each Code.
var (
	ErrNotFound           = errors.New("not found")
	ErrInvalid            = errors.New("invalid")
	ErrConflict           = errors.New("conflict")
	ErrInternal           = errors.New("internal error")
	ErrUnsupportedVersion = errors.New("unsupported protocol version")
	ErrUnknownOp          = errors.New("unknown operation")
)

var sentinels = map[Code]error{
	CodeNotFound:           ErrNotFound,
	CodeInvalid:            ErrInvalid,
	CodeConflict:           ErrConflict,
	CodeInternal:           ErrInternal,
	CodeUnsupportedVersion: ErrUnsupportedVersion,
	CodeUnknownOp:          ErrUnknownOp,
}

// Error is an error reported by the helper.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is reports whether target is the sentinel error for e's code.
func (e *Error) Is(target error) bool {
	sentinel, ok := sentinels[e.Code]
	return ok && sentinel == target
}
