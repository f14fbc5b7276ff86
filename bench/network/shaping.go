//go:build linux

package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Bounds of -uplink-rate in bit/s, which cover the wired and wireless links of IoT devices.
const (
	minUplinkRate = 1_000_000
	maxUplinkRate = 10_000_000_000
)

// minBurstBytes lets a 64 KiB GSO packet, the largest that a veth pair passes by default,
// through tbf in one piece. tbf splits a packet larger than its bucket into segments, which
// costs CPU time that a NIC with segmentation offload would not spend.
const minBurstBytes = 128 << 10

// rateUnits are the units of -uplink-rate, with tc's meaning: SI multiples of bit/s.
var rateUnits = []struct {
	suffix string
	bits   float64
}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}}

// parseRate parses -uplink-rate: a number with a kbit, mbit or gbit suffix, such as 1gbit or
// 2.5gbit, or "" or "0" for no shaping. It returns the rate in bit/s.
func parseRate(text string) (int64, error) {
	if text == "" || text == "0" {
		return 0, nil
	}
	lower := strings.ToLower(text)
	for _, unit := range rateUnits {
		number, ok := strings.CutSuffix(lower, unit.suffix)
		if !ok {
			continue
		}
		value, err := strconv.ParseFloat(number, 64)
		if err != nil || math.IsNaN(value) {
			break
		}
		bits := value * unit.bits
		if bits < minUplinkRate || bits > maxUplinkRate {
			return 0, fmt.Errorf("invalid -uplink-rate %q: use %s to %s, or 0 for no shaping",
				text, formatRate(minUplinkRate), formatRate(maxUplinkRate))
		}
		return int64(math.Round(bits)), nil
	}
	return 0, fmt.Errorf("invalid -uplink-rate %q: use a number with kbit, mbit or gbit, such as 1gbit "+
		"or 100mbit, or 0 for no shaping", text)
}

// formatRate writes a rate in bit/s in tc's notation with the largest unit that keeps the
// number at 1 or more, such as 1gbit, 2.5gbit or 100mbit.
func formatRate(bits int64) string {
	for _, unit := range rateUnits {
		if float64(bits) >= unit.bits {
			return strconv.FormatFloat(float64(bits)/unit.bits, 'f', -1, 64) + unit.suffix
		}
	}
	return strconv.FormatInt(bits, 10) + "bit"
}

// tbfArgs returns the tc arguments that shape what dev in namespace sends to rate bit/s. The
// bucket holds 1 ms of the link, at least minBurstBytes, and the queue 10 ms, at least two
// buckets. For comparison, a NIC's default queue of 1000 frames holds 12 ms at 1 Gbit/s.
func tbfArgs(namespace, dev string, rate int64) []string {
	burst := max(rate/8/1000, minBurstBytes)
	limit := max(rate/8/100, 2*burst)
	return []string{"-n", namespace, "qdisc", "replace", "dev", dev, "root", "tbf",
		"rate", strconv.FormatInt(rate, 10) + "bit",
		"burst", strconv.FormatInt(burst, 10), "limit", strconv.FormatInt(limit, 10)}
}

// shapeUplink shapes both ends of the NAT network's uplink to rate bit/s, so each direction
// meets the rate at the side that sends, as on a physical link. A rate of zero removes the
// shaping. Nothing runs when the uplink already has the rate.
func (t *testbed) shapeUplink(ctx context.Context, rate int64) error {
	if rate == t.shapedRate {
		return nil
	}
	ends := []struct{ namespace, dev string }{{t.device.Namespace, uplinkDeviceVeth}, {t.outside, peerVeth}}
	for _, end := range ends {
		if rate == 0 {
			if _, err := runCommand(ctx, "tc", "-n", end.namespace, "qdisc", "del", "dev", end.dev, "root"); err != nil {
				return fmt.Errorf("remove the uplink's shaping: %w", err)
			}
			continue
		}
		if _, err := runCommand(ctx, "tc", tbfArgs(end.namespace, end.dev, rate)...); err != nil {
			return fmt.Errorf("shape the uplink to %s: %w", formatRate(rate), err)
		}
	}
	t.shapedRate = rate
	return nil
}
