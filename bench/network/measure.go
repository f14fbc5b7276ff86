//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// client runs one timed transfer in direction, as seen by the side that it runs on.
type client func(ctx context.Context, direction string, duration time.Duration) (sample, error)

// comparison is one mode and direction, measured from a container and from its native
// reference, with the samples of the counted rounds.
type comparison struct {
	mode      string
	direction string // directionSend: the container, or the native side, sends

	// uplinkRate is the uplink's shaped rate in bit/s during the comparison, zero for none.
	uplinkRate int64

	container, native               client
	containerSamples, nativeSamples []sample
}

// comparisons returns the comparisons of the testbed: bridge and NAT in each direction, and
// NAT on the shaped uplink when uplinkRate is above zero.
func (t *testbed) comparisons(uplinkRate int64) []*comparison {
	bridge, nat := t.containerNames()
	devicePort := t.deviceServer.port
	outsideAddress := net.JoinHostPort(outsideIP, t.outsideServer.port)
	bridgeContainer := t.containerClient(bridge, net.JoinHostPort(bridgeGateway(), devicePort))
	bridgeNative := t.nativeClient(t.reference, net.JoinHostPort(referenceDeviceIP, devicePort))
	natContainer := t.containerClient(nat, outsideAddress)
	natNative := t.nativeClient(t.device.Namespace, outsideAddress)

	var list []*comparison
	for _, direction := range []string{directionSend, directionReceive} {
		list = append(list,
			&comparison{mode: "bridge", direction: direction, container: bridgeContainer, native: bridgeNative},
			&comparison{mode: "NAT", direction: direction, container: natContainer, native: natNative})
		if uplinkRate > 0 {
			list = append(list, &comparison{mode: "NAT " + formatRate(uplinkRate), direction: direction,
				uplinkRate: uplinkRate, container: natContainer, native: natNative})
		}
	}
	return list
}

// bridgeGateway returns the device's address on the bridge network.
func bridgeGateway() string {
	gateway, _, _ := strings.Cut(bridgeCIDR, "/")
	return gateway
}

// containerClient runs the traffic tool inside the named container through the helper's
// container.exec, which attaches it to the container's namespaces and cgroups.
func (t *testbed) containerClient(name, address string) client {
	return func(ctx context.Context, direction string, duration time.Duration) (sample, error) {
		params := protocol.ExecParams{
			Name:           name,
			Argv:           append([]string{toolInContainer}, trafficArgs(address, direction, duration)...),
			TimeoutSeconds: int((duration + 2*trafficSlack).Seconds()),
		}
		var result protocol.ExecResult
		if err := t.callHelper(ctx, protocol.OpContainerExec, params, &result); err != nil {
			return sample{}, err
		}
		if result.ExitCode != 0 || result.Signal != "" {
			return sample{}, fmt.Errorf("traffic tool in container %s: exit code %d, signal %q: %s",
				name, result.ExitCode, result.Signal, strings.TrimSpace(string(result.Stderr)))
		}
		return parseResult(string(result.Stdout))
	}
}

// nativeClient runs the traffic tool in the named network namespace with nsenter, as a plain
// process of the host's cgroup.
func (t *testbed) nativeClient(namespace, address string) client {
	return func(ctx context.Context, direction string, duration time.Duration) (sample, error) {
		args := append([]string{"--net=/run/netns/" + namespace, "--", t.self},
			trafficArgs(address, direction, duration)...)
		out, err := runCommand(ctx, "nsenter", args...)
		if err != nil {
			return sample{}, fmt.Errorf("traffic tool in namespace %s: %w", namespace, err)
		}
		return parseResult(string(out))
	}
}

// measure runs one uncounted warm-up round, unless opts.warmup is zero, and then opts.runs
// counted rounds. Every round measures each comparison from both sides, and the side that
// goes first alternates from round to round, so slow drift of the machine's load affects
// both sides alike.
func (t *testbed) measure(ctx context.Context, opts options) ([]*comparison, error) {
	list := t.comparisons(opts.uplinkRate)
	if opts.warmup > 0 {
		t.logf("warm-up round, %s per transfer (not counted)", opts.warmup)
		for _, c := range list {
			if err := t.shapeUplink(ctx, c.uplinkRate); err != nil {
				return nil, err
			}
			for _, run := range []client{c.container, c.native} {
				if _, err := run(ctx, c.direction, opts.warmup); err != nil {
					return nil, fmt.Errorf("warm-up, %s: %w", c.title(), err)
				}
			}
		}
	}
	for round := range opts.runs {
		for _, c := range list {
			if err := t.shapeUplink(ctx, c.uplinkRate); err != nil {
				return nil, err
			}
			if err := c.measureRound(ctx, round, opts.duration); err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", round+1, c.title(), err)
			}
			last := len(c.nativeSamples) - 1
			t.logf("round %d/%d, %s: container %.2f, native %.2f Gbit/s", round+1, opts.runs, c.title(),
				gbits(c.containerSamples[last].bitsPerSecond()), gbits(c.nativeSamples[last].bitsPerSecond()))
		}
	}
	return list, nil
}

// measureRound takes one sample from each side. The container goes first when the 0-based
// round index is even, so in the first, third, fifth round, and the native side in the others.
func (c *comparison) measureRound(ctx context.Context, round int, duration time.Duration) error {
	first, second := c.container, c.native
	if round%2 == 1 {
		first, second = second, first
	}
	a, err := first(ctx, c.direction, duration)
	if err != nil {
		return err
	}
	b, err := second(ctx, c.direction, duration)
	if err != nil {
		return err
	}
	if round%2 == 1 {
		a, b = b, a
	}
	c.containerSamples = append(c.containerSamples, a)
	c.nativeSamples = append(c.nativeSamples, b)
	return nil
}

// title names the comparison in progress lines and errors, such as "bridge, container sends".
func (c *comparison) title() string {
	return c.mode + ", " + directionTitle(c.direction)
}

// directionTitle describes a direction from the container's side.
func directionTitle(direction string) string {
	if direction == directionReceive {
		return "container receives"
	}
	return "container sends"
}
