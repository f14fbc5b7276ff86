//go:build linux

package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := func(values ...int) []time.Duration {
		var times []time.Duration
		for _, v := range values {
			times = append(times, time.Duration(v)*time.Millisecond)
		}
		return times
	}
	tests := []struct {
		name              string
		times             []time.Duration
		median, low, high time.Duration
	}{
		{"empty", nil, 0, 0, 0},
		{"one", ms(700), 700 * time.Millisecond, 700 * time.Millisecond, 700 * time.Millisecond},
		{"odd unsorted", ms(900, 500, 700), 700 * time.Millisecond, 500 * time.Millisecond, 900 * time.Millisecond},
		{"even", ms(400, 100, 300, 200), 250 * time.Millisecond, 100 * time.Millisecond, 400 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			original := slices.Clone(tt.times)
			median, low, high := summarize(tt.times)
			if median != tt.median {
				t.Errorf("median = %v, want %v", median, tt.median)
			}
			if low != tt.low {
				t.Errorf("min = %v, want %v", low, tt.low)
			}
			if high != tt.high {
				t.Errorf("max = %v, want %v", high, tt.high)
			}
			if !slices.Equal(tt.times, original) {
				t.Errorf("summarize reordered its input to %v", tt.times)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	if got := ratio(1.35, 2.7); got != "0.50" {
		t.Errorf("ratio(1.35, 2.7) = %q, want 0.50", got)
	}
	if got := ratio(4.5, 1.5); got != "3.00" {
		t.Errorf("ratio(4.5, 1.5) = %q, want 3.00", got)
	}
	if got := ratio(1, 0); got != "-" {
		t.Errorf("ratio without reference = %q, want -", got)
	}
}

func TestParseMemoryRecords(t *testing.T) {
	use, err := parseMemoryRecords("30720\n76800\n51200\n")
	if err != nil {
		t.Fatalf("parse three records: %v", err)
	}
	if use.maxKiB != 76800 {
		t.Errorf("max = %d KiB, want 76800", use.maxKiB)
	}
	if use.processes != 3 {
		t.Errorf("processes = %d, want 3", use.processes)
	}

	for _, text := range []string{"", "\n", "12x\n", "0\n", "-5\n"} {
		if _, err := parseMemoryRecords(text); err == nil {
			t.Errorf("parseMemoryRecords(%q) succeeded, want an error", text)
		}
	}
}

func TestTerraformEnv(t *testing.T) {
	env := terraformEnv([]string{
		"PATH=/usr/bin", "HOME=/root", "TF_LOG=TRACE", "TF_CLI_CONFIG_FILE=/missing",
		"TF_VAR_containers=3", "CHECKPOINT_DISABLE=", "IOTFLEET_PRIVATE_KEY_FILE=/k",
		"SSH_AUTH_SOCK=/agent", "TFX=kept",
	})
	want := []string{"PATH=/usr/bin", "HOME=/root", "TFX=kept",
		"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0"}
	if !slices.Equal(env, want) {
		t.Errorf("terraformEnv = %q, want %q", env, want)
	}
}

func TestStepArgs(t *testing.T) {
	for _, s := range cycle {
		args := strings.Join(s.args(), " ")
		if !strings.HasPrefix(args, s.verb+" ") {
			t.Errorf("%s: args %q do not start with %q", s.key, args, s.verb)
		}
		if !strings.HasSuffix(args, " -var containers="+strconv.Itoa(s.containers)) {
			t.Errorf("%s: args %q do not set containers=%d", s.key, args, s.containers)
		}
		isPlan := s.verb == "plan"
		if strings.Contains(args, "-detailed-exitcode") != isPlan {
			t.Errorf("%s: args %q: -detailed-exitcode must be set exactly for plans", s.key, args)
		}
		if strings.Contains(args, "-auto-approve") == isPlan {
			t.Errorf("%s: args %q: -auto-approve must be set exactly for apply and destroy", s.key, args)
		}
	}
}
