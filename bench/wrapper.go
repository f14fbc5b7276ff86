//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

const providerName = "terraform-provider-iotfleet"

// Environment variables that pass the wrapper the provider to run and the file to record in.
// Terraform passes its environment on to the providers it starts.
const (
	envRealProvider = "IOTFLEET_BENCH_PROVIDER"
	envRusageFile   = "IOTFLEET_BENCH_RUSAGE_FILE"
)

// runWrapper runs the real provider with the wrapper's arguments and standard streams, and
// appends the provider's peak resident set size in KiB, as wait4 reports it, to the rusage
// file. It returns the provider's exit status.
//
// The child inherits stdout directly, so Terraform reads the plugin handshake from the real
// provider. Only the child's own memory is measured, not the wrapper's.
func runWrapper(args []string) int {
	provider, record := os.Getenv(envRealProvider), os.Getenv(envRusageFile)
	if provider == "" || record == "" {
		fmt.Fprintf(os.Stderr, "%s (bench wrapper): %s and %s must be set; this link is meant to be "+
			"started by Terraform during `make bench`\n", providerName, envRealProvider, envRusageFile)
		return 1
	}

	cmd := exec.Command(provider, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "%s (bench wrapper): start %s: %v\n", providerName, provider, err)
		return 1
	}

	// Terraform stops plugins through their RPC, but passes on an interrupt from the user.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		for sig := range signals {
			_ = cmd.Process.Signal(sig)
		}
	}()

	waitErr := cmd.Wait()
	signal.Stop(signals)
	if err := recordMaxRSS(record, cmd.ProcessState); err != nil {
		fmt.Fprintf(os.Stderr, "%s (bench wrapper): %v\n", providerName, err)
	}

	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
		return 0
	case errors.As(waitErr, &exitErr) && exitErr.ExitCode() >= 0:
		return exitErr.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "%s (bench wrapper): %v\n", providerName, waitErr)
		return 1
	}
}

// recordMaxRSS appends the process's peak resident set size in KiB as one line. A line this
// short is written with one write call to a file opened with O_APPEND, so the lines of
// providers that exit at the same time do not mix.
func recordMaxRSS(path string, state *os.ProcessState) error {
	usage, ok := state.SysUsage().(*syscall.Rusage)
	if !ok || usage == nil {
		return fmt.Errorf("record peak memory: no resource usage for PID %d", state.Pid())
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record peak memory: %w", err)
	}
	// Linux reports ru_maxrss in KiB.
	_, writeErr := fmt.Fprintf(file, "%d\n", usage.Maxrss)
	if err := errors.Join(writeErr, file.Close()); err != nil {
		return fmt.Errorf("record peak memory in %s: %w", path, err)
	}
	return nil
}
