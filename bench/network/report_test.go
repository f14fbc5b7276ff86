//go:build linux

package main

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name              string
		values            []float64
		median, low, high float64
	}{
		{"empty", nil, 0, 0, 0},
		{"one", []float64{7}, 7, 7, 7},
		{"odd unsorted", []float64{9, 5, 7}, 7, 5, 9},
		{"even", []float64{4, 1, 3, 2}, 2.5, 1, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			original := slices.Clone(tt.values)
			median, low, high := summarize(tt.values)
			if median != tt.median {
				t.Errorf("median = %g, want %g", median, tt.median)
			}
			if low != tt.low {
				t.Errorf("min = %g, want %g", low, tt.low)
			}
			if high != tt.high {
				t.Errorf("max = %g, want %g", high, tt.high)
			}
			if !slices.Equal(tt.values, original) {
				t.Errorf("summarize reordered its input to %v", tt.values)
			}
		})
	}
}

func TestPairedRatios(t *testing.T) {
	got := pairedRatios([]float64{9, 8, 6, 5}, []float64{10, 0, 8})
	want := []float64{0.9, 0.75}
	if !slices.Equal(got, want) {
		t.Errorf("pairedRatios = %v, want %v (rounds without a native figure skipped)", got, want)
	}
}

// gbitSamples returns one-second samples of the given Gbit/s figures.
func gbitSamples(rates ...float64) []sample {
	var samples []sample
	for _, rate := range rates {
		samples = append(samples, sample{bytes: int64(rate * 1e9 / 8), elapsed: time.Second})
	}
	return samples
}

func TestFormatRow(t *testing.T) {
	c := &comparison{
		mode:             "NAT",
		direction:        directionReceive,
		containerSamples: gbitSamples(9.7, 9.9, 9.8),
		nativeSamples:    gbitSamples(10.0, 10.2, 9.6),
	}
	cells := strings.Split(formatRow(c), "\t")
	want := []string{"NAT", "container receives", "9.80", "9.70-9.90", "10.00", "9.60-10.20",
		"0.980", "-2.0%", "0.971 (0.970-1.021)"}
	if len(cells) != len(want) {
		t.Fatalf("row has %d cells %q, want %d", len(cells), cells, len(want))
	}
	for i := range want {
		if strings.TrimSpace(cells[i]) != want[i] {
			t.Errorf("cell %d = %q, want %q", i, cells[i], want[i])
		}
	}
}

func TestFormatRowWithoutNative(t *testing.T) {
	c := &comparison{mode: "bridge", direction: directionSend, containerSamples: gbitSamples(5)}
	cells := strings.Split(formatRow(c), "\t")
	for i, name := range map[int]string{6: "ratio", 7: "difference", 8: "paired ratios"} {
		if strings.TrimSpace(cells[i]) != "-" {
			t.Errorf("%s without native samples = %q, want -", name, cells[i])
		}
	}
}

func TestPrintReport(t *testing.T) {
	env := environment{cpus: 2, kernel: "6.1.0", helper: "bin/helper", helperVersion: "v1", runs: 3,
		duration: 3 * time.Second, warmup: time.Second, bridgeContainer: "10.80.0.2",
		natContainer: "10.90.0.2", bridgeMTU: 1500, natMTU: 1500, uplinkRate: 1e9}
	list := []*comparison{
		{mode: "bridge", direction: directionSend, containerSamples: gbitSamples(9), nativeSamples: gbitSamples(10)},
		{mode: "NAT", direction: directionReceive, containerSamples: gbitSamples(4), nativeSamples: gbitSamples(5)},
	}
	var out bytes.Buffer
	if err := printReport(&out, env, list); err != nil {
		t.Fatal(err)
	}
	report := out.String()
	for _, want := range []string{
		"2 CPUs, kernel 6.1.0, helper bin/helper (v1)",
		"3 rounds of 3s transfers",
		"container 10.80.0.2 -> bridge bench-br (MTU 1500)",
		"masquerade out of wan0",
		"far end of that veth pair, 10.79.0.6",
		"NAT 1gbit rows are link-bound",
		"0.900", "-10.0%", "0.800", "-20.0%",
		"ratio 0.985 or more",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Index(report, "container sends") > strings.Index(report, "container receives") {
		t.Errorf("rows are not in the order given:\n%s", report)
	}
}

func TestPrintReportWithoutShaping(t *testing.T) {
	var out bytes.Buffer
	if err := printReport(&out, environment{runs: 1, duration: time.Second}, nil); err != nil {
		t.Fatal(err)
	}
	report := out.String()
	if !strings.Contains(report, "are CPU-bound") {
		t.Errorf("report does not say that the unshaped rows are CPU-bound:\n%s", report)
	}
	if strings.Contains(report, "link-bound") {
		t.Errorf("report describes link-bound rows that a run without -uplink-rate has not:\n%s", report)
	}
}

func TestParseFlagsRejects(t *testing.T) {
	helper := os.Args[0] // any file that exists
	for _, args := range [][]string{
		{"-helper", helper, "-runs", "0"},
		{"-helper", helper, "-duration", "10ms"},
		{"-helper", helper, "-duration", "11m"},
		{"-helper", helper, "-warmup", "-1s"},
		{"-helper", helper, "extra"},
		{"-helper", "/nonexistent/helper"},
		{"-helper", helper, "-uplink-rate", "1g"},
		{"-helper", helper, "-uplink-rate", "20gbit"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) succeeded, want an error", args)
		}
	}
	opts, err := parseFlags([]string{"-helper", helper, "-runs", "2", "-warmup", "0"})
	if err != nil {
		t.Fatalf("parseFlags with valid flags: %v", err)
	}
	if opts.runs != 2 || opts.warmup != 0 || opts.duration != 2*time.Second || opts.uplinkRate != 0 {
		t.Errorf("options = %+v, want 2 runs, no warm-up, 2s transfers, no shaping", opts)
	}
	opts, err = parseFlags([]string{"-helper", helper, "-uplink-rate", "100mbit"})
	if err != nil {
		t.Fatalf("parseFlags with -uplink-rate 100mbit: %v", err)
	}
	if opts.uplinkRate != 100_000_000 {
		t.Errorf("uplink rate = %d bit/s, want 100000000", opts.uplinkRate)
	}
}

func TestCheckStatic(t *testing.T) {
	dynamic, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("ls not found")
	}
	if err := checkStatic(dynamic); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("checkStatic(%s) = %v, want an error naming CGO_ENABLED=0", dynamic, err)
	}
	static := "/bin/busybox"
	if _, err := os.Stat(static); err != nil {
		t.Skip("busybox-static is not installed")
	}
	if err := checkStatic(static); err != nil {
		t.Errorf("checkStatic(%s) = %v, want nil for a static binary", static, err)
	}
}
