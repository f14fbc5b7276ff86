package device

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// exitCommandNotFound is the status with which POSIX shells report a command they cannot find.
const exitCommandNotFound = 127

// exitNotExecutable is the status with which POSIX shells report a command they cannot execute.
const exitNotExecutable = 126

// Batch sends calls to the helper in one request and returns its response, with one result per
// call. A failed call is reported in its Result, not as an error. The error is set when the
// request as a whole failed: the helper is missing (matching fs.ErrNotExist), exited with a
// non-zero status, or rejected the request (wrapping the *protocol.Error).
func (c *Client) Batch(ctx context.Context, calls []protocol.Call) (*protocol.Response, error) {
	if err := validateCalls(calls); err != nil {
		return nil, err
	}
	request := protocol.Request{
		Version:  protocol.Version,
		StateDir: c.target.StateDir,
		LXCPath:  c.target.LXCPath,
		Calls:    calls,
	}
	body, err := json.Marshal(request)
	if err != nil {
		return nil, fmt.Errorf("encode helper request: %w", err)
	}

	command := shellQuote(c.target.HelperPath()) + " " + protocol.ServeCommand
	stdout, stderr, runErr := c.run(ctx, command, body, maxResponseSize)
	if err := c.helperStartError(runErr, stderr); err != nil {
		return nil, err
	}

	var response protocol.Response
	if err := json.Unmarshal(stdout, &response); err != nil {
		if runErr != nil {
			return nil, c.commandError("run helper", runErr, stderr)
		}
		return nil, fmt.Errorf("decode helper response from device %s: %w", c.target.ID(), err)
	}
	if response.Error != nil {
		return &response, fmt.Errorf("helper on device %s rejected the request: %w", c.target.ID(), response.Error)
	}
	if runErr != nil {
		return nil, c.commandError("run helper", runErr, stderr)
	}
	if err := c.validateResponse(calls, &response); err != nil {
		return nil, err
	}
	return &response, nil
}

// Call runs one helper operation. params is encoded as the call's parameters unless it is nil,
// and the result's data is decoded into result unless it is nil. A failed call returns an
// error wrapping its *protocol.Error, so errors.Is(err, protocol.ErrNotFound) works.
//
// Read-only operations that reach the device within a few milliseconds of each other share
// one request (see coalescedOps). A failure of that request as a whole is returned to each of
// its callers, with the errors that Batch returns.
func (c *Client) Call(ctx context.Context, op string, params any, result any) error {
	call := protocol.Call{ID: 1, Op: op}
	if params != nil {
		encoded, err := json.Marshal(params)
		if err != nil {
			return fmt.Errorf("encode parameters of helper operation %q: %w", op, err)
		}
		call.Params = encoded
	}

	var outcome protocol.Result
	if coalescedOps[op] {
		var err error
		if outcome, err = c.conn.reads.call(ctx, c, call); err != nil {
			return err
		}
	} else {
		response, err := c.Batch(ctx, []protocol.Call{call})
		if err != nil {
			return err
		}
		outcome = response.Results[0]
	}
	if outcome.Error != nil {
		return fmt.Errorf("helper operation %q on device %s: %w", op, c.target.ID(), outcome.Error)
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(outcome.Data, result); err != nil {
		return fmt.Errorf("decode result of helper operation %q from device %s: %w", op, c.target.ID(), err)
	}
	return nil
}

// helperStartError explains an exit status of 127, which both the shell (command not found)
// and the dynamic loader (missing shared library, such as liblxc) use, and of 126 (not
// executable).
func (c *Client) helperStartError(runErr error, stderr string) error {
	var exitErr *ssh.ExitError
	if !errors.As(runErr, &exitErr) {
		return nil
	}
	if status := exitErr.ExitStatus(); status != exitCommandNotFound && status != exitNotExecutable {
		return nil
	}
	if strings.Contains(stderr, "error while loading shared libraries") {
		return fmt.Errorf("run helper on device %s: the helper cannot start because the device lacks "+
			"a library it needs; install LXC (liblxc) on the device: %s", c.target.ID(), stderrTail(stderr))
	}
	return fmt.Errorf("run helper on device %s: %s: %w: %w",
		c.target.ID(), c.target.HelperPath(), ErrHelperMissing, fs.ErrNotExist)
}

func validateCalls(calls []protocol.Call) error {
	if len(calls) == 0 {
		return errors.New("helper request has no calls")
	}
	seen := make(map[int]bool, len(calls))
	for _, call := range calls {
		if call.Op == "" {
			return fmt.Errorf("helper call %d has no operation", call.ID)
		}
		if seen[call.ID] {
			return fmt.Errorf("helper request has two calls with ID %d", call.ID)
		}
		seen[call.ID] = true
	}
	return nil
}

// validateResponse checks that the helper speaks this protocol version and returned exactly
// one result for each call, and orders the results like the calls.
func (c *Client) validateResponse(calls []protocol.Call, response *protocol.Response) error {
	if response.Version != protocol.Version {
		return fmt.Errorf("helper on device %s speaks protocol version %d, expected %d; "+
			"install the helper bundled with this provider", c.target.ID(), response.Version, protocol.Version)
	}
	byID := make(map[int]protocol.Result, len(response.Results))
	for _, result := range response.Results {
		if _, duplicate := byID[result.ID]; duplicate {
			return fmt.Errorf("helper on device %s returned two results for call %d", c.target.ID(), result.ID)
		}
		byID[result.ID] = result
	}
	ordered := make([]protocol.Result, 0, len(calls))
	for _, call := range calls {
		result, ok := byID[call.ID]
		if !ok {
			return fmt.Errorf("helper on device %s returned no result for call %d (%s)",
				c.target.ID(), call.ID, call.Op)
		}
		ordered = append(ordered, result)
	}
	if len(response.Results) != len(calls) {
		return fmt.Errorf("helper on device %s returned %d results for %d calls",
			c.target.ID(), len(response.Results), len(calls))
	}
	response.Results = ordered
	return nil
}

// shellQuote quotes s as one word for a POSIX shell, which is how sshd runs an exec request.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
