//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// cleanupTimeout bounds stopping the device, which also destroys the containers on it.
const cleanupTimeout = 2 * time.Minute

// bench is one benchmark run: its work folder, the programs it built and its local device.
type bench struct {
	opts     options
	progress io.Writer
	workDir  string
	native   seccomp.Arch
	binaries binaries
	device   *benchDevice
	// containers lists the containers created on the device.
	containers  []string
	environment environment
}

// environment describes where the figures were taken, for the report's header.
type environment struct {
	kernel string
	cpus   int
	strace string
	source string
}

// results are the figures of one run.
type results struct {
	completeness []workloadResult
	overhead     *overhead
}

func newBench(ctx context.Context, opts options, progress io.Writer) (*bench, error) {
	native, err := nativeArch()
	if err != nil {
		return nil, err
	}
	workDir, err := os.MkdirTemp("", "iotf-bench-record-")
	if err != nil {
		return nil, fmt.Errorf("create work folder: %w", err)
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	straceVersion, _ := exec.CommandContext(ctx, "strace", "-V").Output()
	return &bench{
		opts: opts, progress: progress, workDir: workDir, native: native,
		environment: environment{
			kernel: strings.TrimSpace(string(kernel)),
			cpus:   runtime.NumCPU(),
			strace: strings.TrimSpace(strings.SplitN(string(straceVersion), "\n", 2)[0]),
			source: describeSource(ctx, opts.repo),
		},
	}, nil
}

// describeSource names the commit of repo, and whether it has uncommitted changes.
func describeSource(ctx context.Context, repo string) string {
	commit, err := exec.CommandContext(ctx, "git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return repo
	}
	description := fmt.Sprintf("%s, commit %s", repo, strings.TrimSpace(string(commit)))
	status, err := exec.CommandContext(ctx, "git", "-C", repo, "status", "--porcelain").Output()
	if err == nil && len(status) > 0 {
		description += " with uncommitted changes"
	}
	return description
}

// measure builds the programs, starts the device and takes both sets of figures.
func (b *bench) measure(ctx context.Context) (*results, error) {
	b.logf("building the helper and the workloads from %s", b.opts.repo)
	var err error
	if b.binaries, err = buildBinaries(ctx, b.opts.repo, filepath.Join(b.workDir, "bin")); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("rec%d", os.Getpid()%100000)
	b.logf("starting local device %s", name)
	b.device, err = startDevice(ctx, name, filepath.Join(b.workDir, "devices"), b.binaries.helper)
	if err != nil {
		return nil, err
	}

	r := &results{}
	if r.completeness, err = b.measureCompleteness(ctx); err != nil {
		return nil, b.interrupted(ctx, err)
	}
	if r.overhead, err = b.measureOverhead(ctx); err != nil {
		return nil, b.interrupted(ctx, err)
	}
	return r, nil
}

// interrupted names the interrupt as the cause of err, because a killed helper or strace
// fails with an error that does not say why it was killed.
func (b *bench) interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return err
}

// cleanup stops the device, which destroys every container on it, and removes the work
// folder unless it is to be kept. It runs on success, failure and interrupt alike.
func (b *bench) cleanup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()

	var errs []error
	if b.device != nil {
		b.logf("stopping local device %s", b.device.Name)
		err := b.device.Stop(ctx)
		if err != nil {
			// Stop is idempotent, and a second one finds the processes that exited meanwhile
			// gone.
			b.logf("stopping local device %s again after: %v", b.device.Name, err)
			err = b.device.Stop(ctx)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("stop local device %s: %w; run `bin/localdevice stop -name %s -root %s`",
				b.device.Name, err, b.device.Name, filepath.Dir(b.device.Dir)))
		} else if err := removeCgroups(b.containers); err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case b.opts.keep:
		b.logf("kept the work folder %s", b.workDir)
	case len(errs) > 0:
		b.logf("kept the work folder %s, which holds the device's folder", b.workDir)
	default:
		if err := os.RemoveAll(b.workDir); err != nil {
			errs = append(errs, fmt.Errorf("remove work folder: %w", err))
		}
	}
	return errors.Join(errs...)
}

// createContainer creates a container on the device and notes it for the cleanup.
func (b *bench) createContainer(ctx context.Context, name string, command []string, programs map[string]string) error {
	b.containers = append(b.containers, name)
	return b.device.createContainer(ctx, name, command, programs)
}

// logf prints one progress line.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench-record: "+format+"\n", args...)
}
