//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

// step is one measured terraform command on the containers module.
type step struct {
	key        string // short name, used in log file names
	title      string
	verb       string // apply, plan or destroy
	containers int
}

// cycle is the sequence that each pass runs. It starts and ends with no containers. The plan
// with no containers shows what Terraform and the provider's start cost on their own.
var cycle = []step{
	{key: "plan-0", title: "no-op plan, 0 containers", verb: "plan", containers: 0},
	{key: "apply-1", title: "apply, 1 container", verb: "apply", containers: 1},
	{key: "destroy-1", title: "destroy, 1 container", verb: "destroy", containers: 1},
	{key: "apply-10", title: "apply, 10 containers", verb: "apply", containers: 10},
	{key: "plan-10", title: "no-op plan, 10 containers", verb: "plan", containers: 10},
	{key: "destroy-10", title: "destroy, 10 containers", verb: "destroy", containers: 10},
}

// args returns the terraform arguments of the step. The plan must find no changes: with
// -detailed-exitcode, a plan with changes exits with status 2, which fails the run.
func (s step) args() []string {
	count := "containers=" + strconv.Itoa(s.containers)
	if s.verb == "plan" {
		return []string{"plan", "-detailed-exitcode", "-input=false", "-no-color", "-var", count}
	}
	return []string{s.verb, "-auto-approve", "-input=false", "-no-color", "-var", count}
}

// results are the figures of one benchmark run.
type results struct {
	runs      int
	times     map[string][]time.Duration // by step key
	memory    map[string]memoryUse       // by step key
	storage   storageUse
	breakdown []operationCost
}

// memoryUse is the peak resident set size of the provider processes of one command.
type memoryUse struct {
	maxKiB    int64
	processes int
}

// storageUse is the disk usage (du -sk) of the device's lxc path and state_dir, in KiB, at
// each point of the run.
type storageUse struct {
	helperOnly, withAnchor          int64 // set-up: the helper alone, then with the anchor
	before, withOne, withTen, after int64 // memory pass, with the anchor present throughout
	rootfsBytes                     int64 // rootfs_bytes that the provider reports for one container
}

// measure runs the warm-up cycle, the timed cycles and the memory pass, in that order.
func (b *bench) measure(ctx context.Context) (*results, error) {
	if err := b.startDevice(ctx); err != nil {
		return nil, err
	}
	r := &results{runs: b.opts.runs, times: map[string][]time.Duration{}, memory: map[string]memoryUse{}}
	if err := b.setUpDevice(ctx, &r.storage); err != nil {
		return nil, err
	}
	if err := b.runCycle(ctx, "warm-up", nil); err != nil {
		return nil, err
	}
	for run := 1; run <= b.opts.runs; run++ {
		if err := b.runCycle(ctx, fmt.Sprintf("run %d/%d", run, b.opts.runs), r.times); err != nil {
			return nil, err
		}
	}
	b.logf("memory and storage pass: the provider runs under the memory wrapper (not timed)")
	if err := b.memoryPass(ctx, r); err != nil {
		return nil, err
	}
	b.logf("breakdown: timing single device operations")
	var err error
	if r.breakdown, err = b.measureBreakdown(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// runCycle runs every step of the cycle with the copied provider and, unless times is nil,
// records each wall time.
func (b *bench) runCycle(ctx context.Context, label string, times map[string][]time.Duration) error {
	for _, s := range cycle {
		elapsed, err := b.runStep(ctx, s, b.directCLI, nil)
		if err != nil {
			return err
		}
		b.logf("%s: %-26s %6.2f s", label, s.title, elapsed.Seconds())
		if times != nil {
			times[s.key] = append(times[s.key], elapsed)
		}
	}
	return nil
}

func (b *bench) runStep(ctx context.Context, s step, cliConfig string, env []string) (time.Duration, error) {
	elapsed, status, err := b.tf.run(ctx, command{
		name: s.key, dir: b.containersDir, cliConfig: cliConfig, extraEnv: env, args: s.args(),
	})
	if ctx.Err() != nil {
		return 0, fmt.Errorf("%s: interrupted: %w", s.title, ctx.Err())
	}
	if s.verb == "plan" && status == 2 {
		return 0, fmt.Errorf("%s found changes right after an apply, so the provider does not converge: %w",
			s.title, err)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", s.title, err)
	}
	return elapsed, nil
}

// memoryPass runs the cycle once more through the wrapper, which records the peak RSS of each
// provider process, and measures the device's disk usage between the steps.
func (b *bench) memoryPass(ctx context.Context, r *results) error {
	env := []string{envRealProvider + "=" + b.provider, envRusageFile + "=" + b.rusageFile}
	var err error
	if r.storage.before, err = b.diskUsage(ctx); err != nil {
		return err
	}
	for _, s := range cycle {
		if err := os.Remove(b.rusageFile); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("reset memory records: %w", err)
		}
		if _, err := b.runStep(ctx, s, b.wrappedCLI, env); err != nil {
			return err
		}
		if r.memory[s.key], err = readMemoryRecords(b.rusageFile); err != nil {
			return fmt.Errorf("%s: %w", s.title, err)
		}
		b.logf("memory: %-26s %6.1f MiB peak over %d provider processes", s.title,
			kibToMiB(r.memory[s.key].maxKiB), r.memory[s.key].processes)
		if err := b.recordStorage(ctx, s, &r.storage); err != nil {
			return err
		}
	}
	return nil
}

// recordStorage measures the device's disk usage after the steps that leave containers on it
// or remove the last ones.
func (b *bench) recordStorage(ctx context.Context, s step, storage *storageUse) error {
	var target *int64
	switch s.key {
	case "apply-1":
		target = &storage.withOne
		sizes, err := b.rootfsBytes(ctx)
		if err != nil {
			return err
		}
		storage.rootfsBytes = sizes[0]
	case "apply-10":
		target = &storage.withTen
	case "destroy-10":
		target = &storage.after
	default:
		return nil
	}
	kib, err := b.diskUsage(ctx)
	*target = kib
	return err
}

// diskUsage returns what `du -sk` counts, inside the device, for its lxc path and state_dir
// together. du counts a file with several hard links once.
func (b *bench) diskUsage(ctx context.Context) (int64, error) {
	out, err := b.device.Exec(ctx, "du", "-s", "-k", "-c", localdevice.LXCPath, localdevice.StateDir)
	if err != nil {
		return 0, fmt.Errorf("measure disk usage on the device: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	fields := strings.Fields(lines[len(lines)-1])
	if len(fields) != 2 || fields[1] != "total" {
		return 0, fmt.Errorf("measure disk usage on the device: du printed %q, want a total line last", out)
	}
	kib, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("measure disk usage on the device: parse du total %q: %w", fields[0], err)
	}
	return kib, nil
}

// rootfsBytes returns the rootfs_bytes of every container in the containers module's state.
func (b *bench) rootfsBytes(ctx context.Context) ([]int64, error) {
	out, err := b.tf.showState(ctx, b.containersDir, b.directCLI)
	if err != nil {
		return nil, err
	}
	var state struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Type   string `json:"type"`
					Values struct {
						RootfsBytes int64 `json:"rootfs_bytes"`
					} `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal(out, &state); err != nil {
		return nil, fmt.Errorf("parse terraform show -json: %w", err)
	}
	var sizes []int64
	for _, resource := range state.Values.RootModule.Resources {
		if resource.Type == "iotfleet_container" {
			sizes = append(sizes, resource.Values.RootfsBytes)
		}
	}
	if len(sizes) == 0 {
		return nil, fmt.Errorf("terraform show -json lists no container in %s", b.containersDir)
	}
	return sizes, nil
}

// readMemoryRecords returns the largest peak RSS in the wrapper's records and how many
// provider processes wrote one.
func readMemoryRecords(path string) (memoryUse, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return memoryUse{}, fmt.Errorf("read memory records of the provider: %w", err)
	}
	return parseMemoryRecords(string(data))
}

func parseMemoryRecords(text string) (memoryUse, error) {
	var use memoryUse
	for _, line := range strings.Fields(text) {
		kib, err := strconv.ParseInt(line, 10, 64)
		if err != nil || kib <= 0 {
			return memoryUse{}, fmt.Errorf("invalid memory record %q: want a positive number of KiB", line)
		}
		use.maxKiB = max(use.maxKiB, kib)
		use.processes++
	}
	if use.processes == 0 {
		return memoryUse{}, fmt.Errorf("no provider process recorded its memory; " +
			"check that Terraform started the wrapper")
	}
	return use, nil
}
