//go:build linux

package localdevice

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Grace periods of a stop: first SIGTERM, then SIGKILL.
const (
	termGrace = 3 * time.Second
	killGrace = 3 * time.Second
)

// namespace identifies a namespace by the device and inode of its nsfs file, which is what
// /proc/PID/ns/* and the bind mounts under /run/netns resolve to.
type namespace struct {
	dev, ino uint64
}

// namespaceOf returns the namespace that the file at path refers to.
func namespaceOf(path string) (namespace, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return namespace{}, err
	}
	return namespace{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// processMatcher selects the processes in a network namespace or a mount namespace. A zero
// namespace matches nothing.
type processMatcher struct {
	net, mnt namespace
}

func (m processMatcher) matches(pid int) bool {
	if m.net != (namespace{}) {
		if ns, err := namespaceOf(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && ns == m.net {
			return true
		}
	}
	if m.mnt != (namespace{}) {
		if ns, err := namespaceOf(fmt.Sprintf("/proc/%d/ns/mnt", pid)); err == nil && ns == m.mnt {
			return true
		}
	}
	return false
}

// pidHandle is a pidfd, which keeps referring to the same process even after its PID is reused.
type pidHandle struct {
	pid, fd int
}

// openPID opens a pidfd for pid. The error wraps ESRCH when no such process exists.
func openPID(pid int) (pidHandle, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return pidHandle{}, fmt.Errorf("open pidfd of PID %d: %w", pid, err)
	}
	return pidHandle{pid: pid, fd: fd}, nil
}

func (h pidHandle) close() { unix.Close(h.fd) }

// signal sends sig to the process. A process that has already exited is not an error.
func (h pidHandle) signal(sig unix.Signal) error {
	err := unix.PidfdSendSignal(h.fd, sig, nil, 0)
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal PID %d: %w", h.pid, err)
	}
	return nil
}

// openMatching opens a pidfd for every process that m selects, except the calling process.
// It checks the namespaces again after opening, so a PID reused in between is skipped.
func openMatching(m processMatcher) ([]pidHandle, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	var handles []pidHandle
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil || pid == self || !m.matches(pid) {
			continue
		}
		h, err := openPID(pid)
		if err != nil {
			continue // The process exited.
		}
		if !m.matches(pid) {
			h.close()
			continue
		}
		handles = append(handles, h)
	}
	return handles, nil
}

// waitExit waits until every process has exited (zombies count as exited) or timeout passes,
// and returns the processes still running.
func waitExit(ctx context.Context, handles []pidHandle, timeout time.Duration) []pidHandle {
	deadline := time.Now().Add(timeout)
	for {
		var running []pidHandle
		for _, h := range handles {
			fds := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
			if n, err := unix.Poll(fds, 0); err == nil && n == 0 {
				running = append(running, h)
			}
		}
		if len(running) == 0 || time.Now().After(deadline) {
			return running
		}
		handles = running
		if sleepContext(ctx, 10*time.Millisecond) != nil {
			return running
		}
	}
}

// terminate sends SIGTERM to every process, then SIGKILL to those still running after
// termGrace, and returns the PIDs that are still running after killGrace.
func terminate(ctx context.Context, handles []pidHandle) ([]int, error) {
	var errs []error
	for _, h := range handles {
		errs = append(errs, h.signal(unix.SIGTERM))
	}
	running := waitExit(ctx, handles, termGrace)
	for _, h := range running {
		errs = append(errs, h.signal(unix.SIGKILL))
	}
	running = waitExit(ctx, running, killGrace)

	pids := make([]int, 0, len(running))
	for _, h := range running {
		pids = append(pids, h.pid)
	}
	sort.Ints(pids)
	return pids, errors.Join(errs...)
}

// stopProcesses ends every process in the device's network namespace or in sshd's mount
// namespace, sshd included. It scans again after each round because sshd may fork meanwhile.
func (d *Device) stopProcesses(ctx context.Context, sshdPID int) error {
	var m processMatcher
	if ns, err := namespaceOf(d.netnsPath()); err == nil {
		m.net = ns
	}
	if sshdPID != 0 {
		if m.net == (namespace{}) {
			// The namespace's name is gone, but sshd still holds the namespace.
			if ns, err := namespaceOf(fmt.Sprintf("/proc/%d/ns/net", sshdPID)); err == nil {
				m.net = ns
			}
		}
		if ns, err := namespaceOf(fmt.Sprintf("/proc/%d/ns/mnt", sshdPID)); err == nil {
			m.mnt = ns
		}
	}

	const rounds = 3
	for round := 0; round < rounds; round++ {
		handles, err := openMatching(m)
		if err != nil {
			return fmt.Errorf("stop processes: %w", err)
		}
		handles = append(handles, d.ownChild()...)
		// A zombie needs no signal. sshd stays one until this process reaps it, and counting
		// it would make every round find it again.
		live := waitExit(ctx, handles, 0)
		var running []int
		if len(live) > 0 {
			running, err = terminate(ctx, live)
		}
		for _, h := range handles {
			h.close()
		}
		if len(live) == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("stop processes: %w", err)
		}
		if len(running) > 0 {
			return fmt.Errorf("stop processes: PIDs %v survived SIGKILL", running)
		}
	}
	return fmt.Errorf("stop processes: new processes kept appearing in namespace %s "+
		"after %d rounds", d.Namespace, rounds)
}

// ownChild returns a handle on sshd while this process started it and has not reaped it yet.
// That covers the moments before sshd enters the device's namespaces.
func (d *Device) ownChild() []pidHandle {
	if d.exited == nil || d.PID <= 0 {
		return nil
	}
	select {
	case <-d.exited:
		return nil
	default:
	}
	h, err := openPID(d.PID)
	if err != nil {
		return nil
	}
	return []pidHandle{h}
}
