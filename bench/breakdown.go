//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// breakdownRounds is how often each operation of the breakdown runs. The report shows the median.
const breakdownRounds = 5

// operationCost is the median time of one device operation.
type operationCost struct {
	title  string
	median time.Duration
}

// measureBreakdown times the parts of the provider's device work one at a time, with the
// provider's own SSH transport over one warm connection. The parts are a plain SSH command, a
// helper call over SSH, the same helper call run on the device without SSH, and the helper
// check that every create, update and delete of a container starts with.
func (b *bench) measureBreakdown(ctx context.Context) ([]operationCost, error) {
	key, err := os.ReadFile(b.device.ClientKeyPath)
	if err != nil {
		return nil, fmt.Errorf("read the device's client key: %w", err)
	}
	pool := device.NewPool(device.Credentials{PrivateKey: key, ConnectTimeout: 30 * time.Second}, 0)
	defer pool.Close()
	client, err := pool.Get(ctx, device.Target{
		Host: b.device.Address(), Port: b.device.Port, User: b.device.User, HostKey: b.device.HostPublicKey,
		StateDir: localdevice.StateDir, LXCPath: localdevice.LXCPath,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to the device for the breakdown: %w", err)
	}
	// The first call dials, so it is not part of any figure.
	if _, err := client.Machine(ctx); err != nil {
		return nil, err
	}

	get := protocol.ContainerName{Name: b.device.Name + "-anchor"}
	request, err := helperRequest(protocol.OpContainerGet, get)
	if err != nil {
		return nil, err
	}
	operations := []struct {
		title string
		run   func() error
	}{
		{"SSH command (`uname -m`) through the login shell", func() error {
			_, err := client.Machine(ctx)
			return err
		}},
		{"helper call (container.get) over SSH", func() error {
			var state protocol.ContainerState
			return client.Call(ctx, protocol.OpContainerGet, get, &state)
		}},
		{"the same helper call on the device, without SSH", func() error {
			out, err := b.device.Exec(ctx, "sh", "-c", `printf '%s' "$1" | "$2" serve`, "sh",
				string(request), client.Target().HelperPath())
			if err != nil {
				return err
			}
			return checkHelperResponse(out)
		}},
		{"helper check before each change (uname, SFTP read and SHA-256)", func() error {
			_, err := client.EnsureHelper(ctx)
			return err
		}},
	}

	var costs []operationCost
	for _, op := range operations {
		median, err := medianDuration(breakdownRounds, op.run)
		if err != nil {
			return nil, fmt.Errorf("breakdown: %s: %w", op.title, err)
		}
		costs = append(costs, operationCost{title: op.title, median: median})
	}
	return costs, nil
}

// helperRequest encodes a helper request with one call, as the provider sends it.
func helperRequest(op string, params any) ([]byte, error) {
	encoded, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encode %s parameters: %w", op, err)
	}
	request, err := json.Marshal(protocol.Request{
		Version: protocol.Version, StateDir: localdevice.StateDir, LXCPath: localdevice.LXCPath,
		Calls: []protocol.Call{{ID: 1, Op: op, Params: encoded}},
	})
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", op, err)
	}
	return request, nil
}

// checkHelperResponse returns an error unless out is a helper response whose only call succeeded.
func checkHelperResponse(out []byte) error {
	var response protocol.Response
	if err := json.Unmarshal(out, &response); err != nil {
		return fmt.Errorf("decode helper response %q: %w", out, err)
	}
	if response.Error != nil {
		return fmt.Errorf("helper rejected the request: %w", response.Error)
	}
	if len(response.Results) != 1 || response.Results[0].Error != nil {
		return fmt.Errorf("helper call failed: %s", out)
	}
	return nil
}

// medianDuration runs fn rounds times, one after another, and returns the median wall time.
func medianDuration(rounds int, fn func() error) (time.Duration, error) {
	times := make([]time.Duration, 0, rounds)
	for range rounds {
		start := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		times = append(times, time.Since(start))
	}
	median, _, _ := summarize(times)
	return median, nil
}
