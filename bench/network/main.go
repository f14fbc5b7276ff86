//go:build linux

// Command bench-network measures the TCP throughput of containers on iotfleet networks
// against the device's own, on a throwaway local device. It creates a bridge network and a
// NAT network through the helper's protocol, one container on each, and times bulk transfers
// in both directions from the container and from a native reference in one run, with the two
// sides interleaved. It prints the figures and the ratio of the two sides and never judges
// them.
//
// Usage:
//
//	bench-network [-helper PATH] [-runs N] [-duration D] [-warmup D] [-uplink-rate RATE]
//
// It must run as root, because local devices need network and mount namespaces, and it must be
// built with CGO_ENABLED=0: the binary is also the traffic tool, which it copies into the
// containers as `traffic serve|run` (see traffic.go).
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
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// options are the command-line settings of one benchmark run.
type options struct {
	helper   string        // helper binary installed on the device
	runs     int           // counted rounds
	duration time.Duration // length of each counted transfer
	warmup   time.Duration // length of each warm-up transfer, zero for no warm-up round

	// uplinkRate is the rate in bit/s of the link-bound NAT comparisons, zero for none.
	uplinkRate int64
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == trafficCommand {
		if err := runTraffic(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-network:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	opts, err := parseFlags(args)
	if err != nil {
		return err
	}
	self, err := checkHost(opts)
	if err != nil {
		return err
	}

	t := &testbed{progress: stdout, self: self}
	var list []*comparison
	runErr := t.setUp(ctx, opts)
	if runErr == nil {
		list, runErr = t.measure(ctx, opts)
	}
	env := t.environment(opts)
	if ctx.Err() != nil {
		runErr = fmt.Errorf("interrupted: %w", errors.Join(ctx.Err(), runErr))
	}
	if cleanupErr := t.cleanUp(ctx); cleanupErr != nil {
		runErr = errors.Join(runErr, fmt.Errorf("clean up: %w", cleanupErr))
	}
	if runErr != nil {
		return runErr
	}
	return printReport(stdout, env, list)
}

func parseFlags(args []string) (options, error) {
	flags := flag.NewFlagSet("bench-network", flag.ContinueOnError)
	var opts options
	flags.StringVar(&opts.helper, "helper", "internal/helperbin/bin/iotfleet-helper-linux-"+runtime.GOARCH,
		"helper binary for this machine, built by `make helpers`")
	flags.IntVar(&opts.runs, "runs", 7, "counted rounds; each measures every path and direction once")
	flags.DurationVar(&opts.duration, "duration", 2*time.Second, "length of each counted transfer")
	flags.DurationVar(&opts.warmup, "warmup", time.Second, "length of each transfer of the uncounted "+
		"warm-up round; 0 skips the round")
	uplinkRate := flags.String("uplink-rate", "", "also measure NAT with both ends of the uplink shaped "+
		"to this rate by tc tbf, such as 1gbit or 100mbit, so that the link limits throughput; 0 or empty "+
		"for no shaping")
	if err := flags.Parse(args); err != nil {
		return options{}, err
	}
	var err error
	if opts.uplinkRate, err = parseRate(*uplinkRate); err != nil {
		return options{}, err
	}
	if flags.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q; see -help", flags.Arg(0))
	}
	if opts.runs < 1 {
		return options{}, fmt.Errorf("invalid -runs %d: run at least one round", opts.runs)
	}
	if opts.duration < 100*time.Millisecond || opts.duration > maxTrafficDuration {
		return options{}, fmt.Errorf("invalid -duration %s: use 100ms to %s", opts.duration, maxTrafficDuration)
	}
	if opts.warmup < 0 || opts.warmup > maxTrafficDuration {
		return options{}, fmt.Errorf("invalid -warmup %s: use 0 to %s", opts.warmup, maxTrafficDuration)
	}
	if _, err := os.Stat(opts.helper); err != nil {
		return options{}, fmt.Errorf("find helper: %w; run `make helpers` first, or pass -helper", err)
	}
	return opts, nil
}

// checkHost returns this binary's path after checking that the benchmark can run here.
func checkHost(opts options) (string, error) {
	if os.Geteuid() != 0 {
		return "", errors.New("must run as root, because the local device needs network namespaces " +
			"and mounts; rerun as root, e.g. with sudo")
	}
	tools := []struct{ name, pkg string }{{"nsenter", "util-linux"}, {"ip", "iproute2"}}
	if opts.uplinkRate > 0 {
		tools = append(tools, struct{ name, pkg string }{"tc", "iproute2"})
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool.name); err != nil {
			return "", fmt.Errorf("%s not found: install the %s package", tool.name, tool.pkg)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this binary, which is also the traffic tool: %w", err)
	}
	return self, checkStatic(self)
}

// environment returns the report's header values. Values that set-up did not reach are empty.
func (t *testbed) environment(opts options) environment {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	env := environment{
		cpus:       runtime.NumCPU(),
		kernel:     strings.TrimSpace(string(kernel)),
		helper:     opts.helper,
		runs:       opts.runs,
		duration:   opts.duration,
		warmup:     opts.warmup,
		bridgeMTU:  t.bridgeMTU,
		natMTU:     t.natMTU,
		uplinkRate: opts.uplinkRate,
	}
	if t.device == nil {
		return env
	}
	env.helperVersion = t.helper.version
	bridge, nat := t.containerNames()
	env.bridgeContainer = containerAddress(t.containers[bridge])
	env.natContainer = containerAddress(t.containers[nat])
	return env
}

// containerAddress returns the container's first address, or "-" before it has one.
func containerAddress(state protocol.ContainerState) string {
	if len(state.Networks) == 0 {
		return "-"
	}
	return state.Networks[0].IPv4Address
}
