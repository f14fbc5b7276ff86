//go:build linux

// Command threads is the multi-threaded workload of the recording benchmark. Several goroutines,
// each locked to an OS thread of its own, make syscalls that the main thread never makes, so a
// recorder that follows only the main thread misses them. Built with GOARCH=386, it is also the
// benchmark's 32-bit workload.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
)

// workers is the number of threads that make the per-thread calls.
const workers = 4

func main() {
	done := flag.String("done", "", "file to create once every thread succeeded")
	flag.Parse()

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The thread exits with the goroutine instead of returning to Go's thread pool.
			runtime.LockOSThread()
			if err := work(i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := false
	for err := range errs {
		fmt.Fprintln(os.Stderr, "threads:", err)
		failed = true
	}
	if failed {
		os.Exit(1)
	}
	if *done != "" {
		if err := os.WriteFile(*done, nil, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "threads:", err)
			os.Exit(1)
		}
	}
}

// work makes one thread's calls: a file round trip in /tmp, a pipe round trip and a few
// queries of the thread's and the system's state.
func work(worker int) error {
	path := fmt.Sprintf("/tmp/threads-%d-%d", os.Getpid(), worker)
	if err := os.WriteFile(path, []byte("recorded\n"), 0o600); err != nil {
		return fmt.Errorf("worker %d: write %s: %w", worker, path, err)
	}
	if _, err := os.ReadFile(path); err != nil {
		return fmt.Errorf("worker %d: read %s: %w", worker, path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("worker %d: remove %s: %w", worker, path, err)
	}

	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
		return fmt.Errorf("worker %d: pipe2: %w", worker, err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	if _, err := syscall.Write(fds[1], []byte{byte(worker)}); err != nil {
		return fmt.Errorf("worker %d: write to pipe: %w", worker, err)
	}
	if _, err := syscall.Read(fds[0], make([]byte, 1)); err != nil {
		return fmt.Errorf("worker %d: read from pipe: %w", worker, err)
	}

	var uts syscall.Utsname
	if err := syscall.Uname(&uts); err != nil {
		return fmt.Errorf("worker %d: uname: %w", worker, err)
	}
	if _, err := syscall.Getwd(); err != nil {
		return fmt.Errorf("worker %d: getcwd: %w", worker, err)
	}
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &usage); err != nil {
		return fmt.Errorf("worker %d: getrusage: %w", worker, err)
	}
	syscall.Gettid()
	return nil
}
