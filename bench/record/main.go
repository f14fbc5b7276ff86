//go:build linux

// Command record benchmarks the helper's syscall recorder on a throwaway local device. It
// prints two sets of figures and judges neither:
//
//   - Completeness: the (ABI, syscall) pairs that each recording mechanism reports for a
//     container's workload, next to those that strace -f reports for the same container start.
//     The workloads are a shell script with child processes, a multi-threaded Go program and
//     the same program built for the 32-bit compat ABI.
//   - Overhead: the nanoseconds per call of a getppid loop and a read/write loop in the
//     container, untraced and under each mechanism, and their ratio to untraced.
//
// Usage:
//
//	record [-repo DIR] [-runs N] [-repeats N] [-loop-time D] [-mechanisms LIST] [-keep]
//
// It must run as root, because local devices need network and mount namespaces, and it builds
// the helper from DIR/helper with the Go toolchain, so the helper's cgo dependencies must be
// installed. `make bench-record` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// options are the command-line settings of one benchmark run.
type options struct {
	repo       string        // repository with helper/ and bench/record/workload/
	runs       int           // runs of each workload under strace and under each mechanism
	repeats    int           // overhead repeats of each column
	loopTime   time.Duration // minimum time of each overhead loop
	mechanisms []string      // requested recording mechanisms
	keep       bool          // keep the work folder
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-record:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	opts, err := parseFlags(args)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("must run as root, because the local device needs network namespaces " +
			"and mounts; rerun as root, e.g. with sudo")
	}
	for _, tool := range []struct{ name, pkg string }{
		{"strace", "strace"}, {"lxc-start", "lxc"}, {"nsenter", "util-linux"}, {"go", "Go toolchain"},
	} {
		if _, err := exec.LookPath(tool.name); err != nil {
			return fmt.Errorf("%s not found: install %s", tool.name, tool.pkg)
		}
	}

	b, err := newBench(ctx, opts, stdout)
	if err != nil {
		return err
	}
	results, runErr := b.measure(ctx)
	cleanupErr := b.cleanup(ctx)
	if runErr != nil {
		return errors.Join(runErr, cleanupErr)
	}
	// The figures stand even when the cleanup fails.
	if err := printReport(stdout, b.environment, opts, results); err != nil {
		return errors.Join(err, cleanupErr)
	}
	return cleanupErr
}

func parseFlags(args []string) (options, error) {
	flags := flag.NewFlagSet("bench-record", flag.ContinueOnError)
	var opts options
	var mechanisms string
	flags.StringVar(&opts.repo, "repo", ".", "repository root, with helper/ and bench/record/workload/")
	flags.IntVar(&opts.runs, "runs", 3, "runs of each completeness workload under strace and under each mechanism")
	flags.IntVar(&opts.repeats, "repeats", 5, "overhead runs of each column (untraced and each mechanism), interleaved")
	flags.DurationVar(&opts.loopTime, "loop-time", time.Second, "minimum time of each overhead loop in one run")
	flags.StringVar(&mechanisms, "mechanisms", "ptrace,ebpf", "comma-separated recording mechanisms to request: "+
		strings.Join(protocol.ValidMechanisms, ", "))
	flags.BoolVar(&opts.keep, "keep", false, "keep the work folder with the strace outputs and built programs")
	if err := flags.Parse(args); err != nil {
		return options{}, err
	}

	if flags.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q; see -help", flags.Arg(0))
	}
	if opts.runs < 1 || opts.runs > protocol.MaxRecordingRuns {
		return options{}, fmt.Errorf("invalid -runs %d: use 1 to %d", opts.runs, protocol.MaxRecordingRuns)
	}
	if opts.repeats < 1 {
		return options{}, fmt.Errorf("invalid -repeats %d: run each column at least once", opts.repeats)
	}
	if opts.loopTime < time.Millisecond {
		return options{}, fmt.Errorf("invalid -loop-time %s: use at least 1ms", opts.loopTime)
	}

	for _, m := range strings.Split(mechanisms, ",") {
		if !slices.Contains(protocol.ValidMechanisms, m) {
			return options{}, fmt.Errorf("invalid -mechanisms entry %q: use %s", m, strings.Join(protocol.ValidMechanisms, ", "))
		}
		if !slices.Contains(opts.mechanisms, m) {
			opts.mechanisms = append(opts.mechanisms, m)
		}
	}

	repo, err := filepath.Abs(opts.repo)
	if err != nil {
		return options{}, fmt.Errorf("resolve -repo %q: %w", opts.repo, err)
	}
	if _, err := os.Stat(filepath.Join(repo, "helper", "go.mod")); err != nil {
		return options{}, fmt.Errorf("invalid -repo %q: %w; run from the repository root or pass -repo", opts.repo, err)
	}
	opts.repo = repo
	return opts, nil
}
