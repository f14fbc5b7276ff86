//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Grace periods of a server's stop, and the wait for its first line.
const (
	serverStartTimeout = 10 * time.Second
	serverTermGrace    = 3 * time.Second
	serverKillGrace    = 3 * time.Second
)

// server is a running `traffic serve` process.
type server struct {
	cmd    *exec.Cmd
	port   string
	exited chan error // receives Wait's result once
}

// startServer starts `self traffic serve -listen listen` behind the words of prefix (such as
// an nsenter command line), and returns once it prints its address.
func startServer(self string, prefix []string, listen string) (*server, error) {
	argv := append(append([]string{}, prefix...), self, trafficCommand, "serve", "-listen", listen)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = processWaitDelay
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, exited: make(chan error, 1)}

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
		s.exited <- cmd.Wait()
	}()
	select {
	case line := <-lines:
		s.port, err = parseListening(line)
	case <-time.After(serverStartTimeout):
		err = fmt.Errorf("no address after %s", serverStartTimeout)
	}
	if err != nil {
		return nil, errors.Join(err, s.stop())
	}
	return s, nil
}

// parseListening returns the port from the server's first line, "listening on ADDRESS:PORT".
func parseListening(line string) (string, error) {
	address, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		return "", fmt.Errorf("unexpected first line %q from the traffic server", line)
	}
	_, port, err := net.SplitHostPort(address)
	if err != nil || port == "" || port == "0" {
		return "", fmt.Errorf("unexpected address %q from the traffic server", address)
	}
	return port, nil
}

// stop ends the server's process group by the server's PID: SIGTERM, then SIGKILL.
func (s *server) stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	pid := s.cmd.Process.Pid
	// The group ID is the server's PID because of Setpgid.
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop traffic server PID %d: %w", pid, err)
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(serverTermGrace):
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill traffic server PID %d: %w", pid, err)
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(serverKillGrace):
		return fmt.Errorf("traffic server PID %d survived SIGKILL", pid)
	}
}

// runCommand runs name with args in its own process group and returns its standard output.
// The error contains the command line and its standard error. Cancelling ctx kills the group.
func runCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	setProcessGroup(cmd)
	if err := cmd.Run(); err != nil {
		err = fmt.Errorf("run %s: %w", strings.Join(append([]string{name}, args...), " "), err)
		return stdout.Bytes(), withDetail(err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// trafficArgs returns the arguments of `traffic run` for one transfer.
func trafficArgs(address, direction string, duration time.Duration) []string {
	return []string{trafficCommand, "run", "-connect", address, "-direction", direction,
		"-duration", duration.String()}
}

// withDetail appends a command's trimmed standard error to err, when there is any.
func withDetail(err error, stderr []byte) error {
	if detail := bytes.TrimSpace(stderr); len(detail) > 0 {
		return fmt.Errorf("%w: %s", err, detail)
	}
	return err
}
