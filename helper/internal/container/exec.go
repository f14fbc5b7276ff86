package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/initspec"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/liblxc"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Exec limits.
const (
	DefaultExecTimeout = 60 * time.Second
	MaxExecTimeout     = 24 * time.Hour

	// MaxExecOutput bounds each of standard output and standard error. The rest is read and
	// dropped, so that the command does not block on a full pipe.
	MaxExecOutput = 16 << 20

	// outputGrace is how long the output pipes may stay open after the command exits, for
	// example held by a background process that it started.
	outputGrace = 2 * time.Second
)

// Exec runs a command in a running container as its root user and returns its outcome.
func Exec(ctx context.Context, env *server.Env, params protocol.ExecParams) (protocol.ExecResult, error) {
	if err := validateExec(params); err != nil {
		return protocol.ExecResult{}, err
	}
	timeout := DefaultExecTimeout
	if params.TimeoutSeconds > 0 {
		timeout = time.Duration(params.TimeoutSeconds) * time.Second
	}

	var result protocol.ExecResult
	err := withLocks(ctx, env, params.Name, lockfile.Shared, func(paths Paths) error {
		if r, err := readRecord(paths); err != nil || r == nil {
			if err != nil {
				return err
			}
			return protocol.Errorf(protocol.CodeNotFound, "container %q not found", paths.Name)
		}
		c, err := liblxc.Open(paths.LXCPath, paths.Name)
		if err != nil {
			return err
		}
		defer c.Close()
		if !c.Running() {
			return protocol.Errorf(protocol.CodeConflict, "container %q is %s; start it before running commands in it",
				paths.Name, c.State())
		}
		result, err = run(ctx, c, params, timeout)
		return err
	})
	return result, err
}

func validateExec(params protocol.ExecParams) error {
	if err := ValidateName(params.Name); err != nil {
		return err
	}
	switch {
	case len(params.Argv) == 0 || params.Argv[0] == "":
		return protocol.Errorf(protocol.CodeInvalid, "exec in %q: argv is empty; name the program to run", params.Name)
	case params.TimeoutSeconds < 0 || time.Duration(params.TimeoutSeconds)*time.Second > MaxExecTimeout:
		return protocol.Errorf(protocol.CodeInvalid, "exec in %q: invalid timeout_seconds %d: use 1 to %d, or 0 for %d",
			params.Name, params.TimeoutSeconds, int(MaxExecTimeout.Seconds()), int(DefaultExecTimeout.Seconds()))
	}
	for i, arg := range params.Argv {
		if strings.ContainsRune(arg, 0) {
			return protocol.Errorf(protocol.CodeInvalid, "exec in %q: argv[%d] contains a NUL byte", params.Name, i)
		}
	}
	return nil
}

// pipes are the command's standard streams: the ends the command gets and the ends the helper
// keeps.
type pipes struct {
	stdinRead, stdinWrite   *os.File
	stdoutRead, stdoutWrite *os.File
	stderrRead, stderrWrite *os.File
}

func newPipes() (*pipes, error) {
	p := &pipes{}
	var err error
	if p.stdinRead, p.stdinWrite, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("create pipes: %w", err)
	}
	if p.stdoutRead, p.stdoutWrite, err = os.Pipe(); err != nil {
		p.closeAll()
		return nil, fmt.Errorf("create pipes: %w", err)
	}
	if p.stderrRead, p.stderrWrite, err = os.Pipe(); err != nil {
		p.closeAll()
		return nil, fmt.Errorf("create pipes: %w", err)
	}
	return p, nil
}

// closeChildEnds closes the ends that the command holds its own copies of.
func (p *pipes) closeChildEnds() {
	for _, f := range []*os.File{p.stdinRead, p.stdoutWrite, p.stderrWrite} {
		if f != nil {
			f.Close()
		}
	}
}

func (p *pipes) closeAll() {
	p.closeChildEnds()
	for _, f := range []*os.File{p.stdinWrite, p.stdoutRead, p.stderrRead} {
		if f != nil {
			f.Close()
		}
	}
}

// run attaches the command, feeds its standard input, collects its output and waits for it,
// killing it when timeout passes or ctx ends.
func run(ctx context.Context, c *liblxc.Container, params protocol.ExecParams, timeout time.Duration) (protocol.ExecResult, error) {
	p, err := newPipes()
	if err != nil {
		return protocol.ExecResult{}, err
	}
	defer p.closeAll()

	env := []string{"PATH=" + initspec.DefaultPath, "HOME=/root"}
	pid, err := c.Attach(params.Argv, env, p.stdinRead.Fd(), p.stdoutWrite.Fd(), p.stderrWrite.Fd())
	if err != nil {
		return protocol.ExecResult{}, fmt.Errorf("exec in %q: %w", params.Name, err)
	}
	p.closeChildEnds()

	go func() {
		// A command that exits without reading its input makes this write fail; that is fine.
		_, _ = p.stdinWrite.Write(params.Stdin)
		p.stdinWrite.Close()
	}()
	var outputs sync.WaitGroup
	var stdout, stderr limitedBuffer
	outputs.Add(2)
	go collect(&outputs, &stdout, p.stdoutRead)
	go collect(&outputs, &stderr, p.stderrRead)

	status, err := waitPID(ctx, pid, timeout)
	if err != nil {
		return protocol.ExecResult{}, fmt.Errorf("exec in %q: %w", params.Name, err)
	}
	waitOutputs(&outputs, p)

	result := protocol.ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	switch {
	case status.Exited():
		result.ExitCode = status.ExitStatus()
	case status.Signaled():
		result.ExitCode = 128 + int(status.Signal())
		result.Signal = strings.TrimPrefix(unix.SignalName(status.Signal()), "SIG")
	}
	return result, nil
}

// waitPID waits for the child pid and kills it when timeout passes or ctx ends.
func waitPID(ctx context.Context, pid int, timeout time.Duration) (unix.WaitStatus, error) {
	type outcome struct {
		status unix.WaitStatus
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		var status unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &status, 0, nil)
			if !errors.Is(err, unix.EINTR) {
				done <- outcome{status, err}
				return
			}
		}
	}()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case result := <-done:
		return result.status, result.err
	case <-timer.C:
	case <-ctx.Done():
	}
	_ = unix.Kill(pid, unix.SIGKILL)
	result := <-done
	return result.status, result.err
}

// waitOutputs waits for both output readers, closing the pipes after outputGrace so that a
// background process that holds them cannot block the helper.
func waitOutputs(outputs *sync.WaitGroup, p *pipes) {
	finished := make(chan struct{})
	go func() {
		outputs.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(outputGrace):
		p.stdoutRead.Close()
		p.stderrRead.Close()
		<-finished
	}
}

func collect(outputs *sync.WaitGroup, buffer *limitedBuffer, r io.Reader) {
	defer outputs.Done()
	_, _ = io.Copy(buffer, r)
}

// limitedBuffer keeps the first MaxExecOutput bytes written to it and drops the rest.
type limitedBuffer struct {
	mu   sync.Mutex
	data []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := MaxExecOutput - len(b.data); room > 0 {
		b.data = append(b.data, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte{}, b.data...)
}
