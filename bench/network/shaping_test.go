//go:build linux

package main

import (
	"slices"
	"testing"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		text string
		bits int64
	}{
		{"", 0},
		{"0", 0},
		{"1gbit", 1_000_000_000},
		{"2.5Gbit", 2_500_000_000},
		{"100mbit", 100_000_000},
		{"1000kbit", 1_000_000},
		{"10gbit", 10_000_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			bits, err := parseRate(tt.text)
			if err != nil {
				t.Fatalf("parseRate(%q): %v", tt.text, err)
			}
			if bits != tt.bits {
				t.Errorf("parseRate(%q) = %d, want %d", tt.text, bits, tt.bits)
			}
		})
	}
}

func TestParseRateRejects(t *testing.T) {
	for _, text := range []string{"1g", "gbit", "1 gbit", "-1gbit", "999kbit", "11gbit", "NaNgbit", "1e3", "fast"} {
		if bits, err := parseRate(text); err == nil {
			t.Errorf("parseRate(%q) = %d, want an error", text, bits)
		}
	}
}

func TestFormatRate(t *testing.T) {
	tests := map[int64]string{
		1_000_000_000: "1gbit",
		2_500_000_000: "2.5gbit",
		100_000_000:   "100mbit",
		1_500_000:     "1.5mbit",
		64_000:        "64kbit",
		999:           "999bit",
	}
	for bits, want := range tests {
		if got := formatRate(bits); got != want {
			t.Errorf("formatRate(%d) = %q, want %q", bits, got, want)
		}
	}
}

func TestFormatRateRoundTrip(t *testing.T) {
	for _, text := range []string{"1mbit", "54mbit", "866.7mbit", "1gbit", "2.5gbit", "10gbit"} {
		bits, err := parseRate(text)
		if err != nil {
			t.Fatalf("parseRate(%q): %v", text, err)
		}
		if got := formatRate(bits); got != text {
			t.Errorf("formatRate(parseRate(%q)) = %q", text, got)
		}
	}
}

func TestTBFArgs(t *testing.T) {
	tests := []struct {
		name                  string
		rate                  int64
		rateArg, burst, limit string
	}{
		// 1 ms of 1 Gbit/s is 125000 bytes, less than the floor of 131072.
		{"floor", 1_000_000_000, "1000000000bit", "131072", "1250000"},
		// 1 ms of 10 Gbit/s is 1250000 bytes and 10 ms is 12500000.
		{"fast", 10_000_000_000, "10000000000bit", "1250000", "12500000"},
		// 10 ms of 10 Mbit/s is 12500 bytes, less than two buckets.
		{"slow", 10_000_000, "10000000bit", "131072", "262144"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tbfArgs("iotf-x", "wan0", tt.rate)
			want := []string{"-n", "iotf-x", "qdisc", "replace", "dev", "wan0", "root", "tbf",
				"rate", tt.rateArg, "burst", tt.burst, "limit", tt.limit}
			if !slices.Equal(got, want) {
				t.Errorf("tbfArgs = %q, want %q", got, want)
			}
		})
	}
}
