//go:build linux

// Command loop is the overhead workload of the recording benchmark. It times two syscall
// loops and writes the result as JSON to the file that -out names:
//
//	{"loops":[{"name":"getppid","calls":N,"elapsed_ns":T},{"name":"read-write","calls":N,"elapsed_ns":T}]}
//
// Each loop runs in batches until -duration has passed, so a slow recorder makes fewer calls
// instead of a longer run. The clock is read once per batch, outside the calls.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"
)

// batch is the number of iterations between two readings of the clock.
const batch = 256

// loop is one timed loop, in the form that the benchmark decodes.
type loop struct {
	Name      string `json:"name"`
	Calls     int64  `json:"calls"`
	ElapsedNS int64  `json:"elapsed_ns"`
}

func main() {
	duration := flag.Duration("duration", time.Second, "minimum time of each loop")
	out := flag.String("out", "", "file that the JSON result is written to")
	flag.Parse()
	if err := run(*duration, *out); err != nil {
		fmt.Fprintln(os.Stderr, "loop:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, out string) error {
	if out == "" {
		return errors.New("missing -out: name the file for the result")
	}
	getppid, err := timeLoop("getppid", duration, 1, func() error {
		syscall.Getppid()
		return nil
	})
	if err != nil {
		return err
	}
	readWrite, err := timeReadWrite(duration)
	if err != nil {
		return err
	}
	data, err := json.Marshal(map[string][]loop{"loops": {getppid, readWrite}})
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// timeReadWrite times a loop that reads 64 bytes from /dev/zero and writes them to
// /dev/null: two calls per iteration.
func timeReadWrite(duration time.Duration) (loop, error) {
	zero, err := syscall.Open("/dev/zero", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return loop{}, fmt.Errorf("open /dev/zero: %w", err)
	}
	defer syscall.Close(zero)
	null, err := syscall.Open("/dev/null", syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return loop{}, fmt.Errorf("open /dev/null: %w", err)
	}
	defer syscall.Close(null)

	buffer := make([]byte, 64)
	return timeLoop("read-write", duration, 2, func() error {
		if _, err := syscall.Read(zero, buffer); err != nil {
			return fmt.Errorf("read /dev/zero: %w", err)
		}
		if _, err := syscall.Write(null, buffer); err != nil {
			return fmt.Errorf("write /dev/null: %w", err)
		}
		return nil
	})
}

// timeLoop calls iteration in batches until duration has passed. Each iteration makes
// callsPerIteration syscalls.
func timeLoop(name string, duration time.Duration, callsPerIteration int64, iteration func() error) (loop, error) {
	var iterations int64
	start := time.Now()
	for time.Since(start) < duration {
		for range batch {
			if err := iteration(); err != nil {
				return loop{}, fmt.Errorf("loop %s: %w", name, err)
			}
		}
		iterations += batch
	}
	elapsed := time.Since(start)
	return loop{Name: name, Calls: iterations * callsPerIteration, ElapsedNS: elapsed.Nanoseconds()}, nil
}
