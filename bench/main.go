//go:build linux

// Command bench measures the provider with real Terraform on a throwaway local device. It
// times apply, no-op plan and destroy with 1 and 10 hardened busybox containers, and records
// the peak memory of the provider process and the disk space that one container adds on the
// device. It prints the figures next to the reference values given to the project and never
// judges them.
//
// Usage:
//
//	bench [-terraform PATH] [-provider PATH] [-runs N] [-tf-log LEVEL] [-keep] [-no-bashrc]
//
// It must run as root, because local devices need network and mount namespaces. `make bench`
// builds the provider and runs it.
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
	"syscall"
)

// options are the command-line settings of one benchmark run.
type options struct {
	terraform string // terraform binary
	provider  string // provider binary, copied before use
	runs      int    // timed runs of each command
	tfLog     string // TF_LOG level of a log per command in the work folder, or empty for none
	keep      bool   // keep the work folder
	noBashrc  bool   // hide root's ~/.bashrc inside the device
}

func main() {
	// Terraform starts the provider through the wrapper link that points back at this binary.
	if filepath.Base(os.Args[0]) == providerName {
		os.Exit(runWrapper(os.Args[1:]))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
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

	b, err := newBench(ctx, opts, stdout)
	if err != nil {
		return err
	}
	results, runErr := b.measure(ctx)
	if runErr != nil && !opts.keep {
		runErr = fmt.Errorf("%w\n(rerun with -keep to keep every command's full output)", runErr)
	}
	if cleanupErr := b.cleanup(ctx); cleanupErr != nil {
		runErr = errors.Join(runErr, cleanupErr)
	}
	if runErr != nil {
		return runErr
	}
	return printReport(stdout, b.environment, results)
}

func parseFlags(args []string) (options, error) {
	flags := flag.NewFlagSet("bench", flag.ContinueOnError)
	var opts options
	flags.StringVar(&opts.terraform, "terraform", "terraform", "terraform binary, 1.11 or newer")
	flags.StringVar(&opts.provider, "provider", "bin/"+providerName, "provider binary built by `make build`")
	flags.IntVar(&opts.runs, "runs", 3, "timed runs of each command, after one warm-up cycle")
	flags.StringVar(&opts.tfLog, "tf-log", "", "TF_LOG level (such as TRACE) of a log file per terraform "+
		"command in the work folder, which is then kept; logging slows every command down")
	flags.BoolVar(&opts.keep, "keep", false, "keep the work folder with the configurations and outputs")
	flags.BoolVar(&opts.noBashrc, "no-bashrc", false, "hide root's ~/.bashrc inside the device, so that "+
		"commands over SSH skip this machine's shell start-up; a local device shares the host's home folders")
	if err := flags.Parse(args); err != nil {
		return options{}, err
	}
	if flags.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q; see -help", flags.Arg(0))
	}
	if opts.runs < 1 {
		return options{}, fmt.Errorf("invalid -runs %d: run each command at least once", opts.runs)
	}

	terraform, err := exec.LookPath(opts.terraform)
	if err != nil {
		return options{}, fmt.Errorf("find terraform %q: %w; install Terraform 1.11 or newer, or pass -terraform",
			opts.terraform, err)
	}
	opts.terraform = terraform
	if _, err := os.Stat(opts.provider); err != nil {
		return options{}, fmt.Errorf("find provider: %w; run `make build` first, or pass -provider", err)
	}
	if opts.tfLog != "" {
		opts.keep = true
	}
	return opts, nil
}
