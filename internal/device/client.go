package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Output limits of remote commands. The helper's response can list every object on a device,
// so it gets far more room than the fixed commands.
const (
	maxResponseSize     = 64 << 20
	maxMachineNameSize  = 4 << 10
	maxStderrSize       = 64 << 10
	maxStderrInMessages = 2 << 10
)

// Client runs commands, the helper and SFTP on one device over the pool's shared connection.
// It is safe for concurrent use. When the connection was lost or closed for idleness, the next
// call reconnects.
type Client struct {
	conn   *connection
	target Target
}

// Target returns the device that the client reaches, with defaults applied.
func (c *Client) Target() Target {
	return c.target
}

// HostKey returns the device's verified host key in authorized_keys form without a comment,
// ready to pin as a Target's HostKey.
func (c *Client) HostKey() string {
	return c.conn.hostKeyText()
}

// Machine returns the device's machine name as `uname -m` prints it, such as "x86_64".
func (c *Client) Machine(ctx context.Context) (string, error) {
	const command = "uname -m"
	stdout, stderr, err := c.run(ctx, command, nil, maxMachineNameSize)
	if err != nil {
		return "", c.commandError(fmt.Sprintf("run %q", command), err, stderr)
	}
	machine := strings.TrimSpace(string(stdout))
	if machine == "" || strings.ContainsAny(machine, " \t\r\n") {
		return "", fmt.Errorf("run %q on device %s: unexpected output %q",
			command, c.target.ID(), abbreviate(machine))
	}
	return machine, nil
}

// run runs command in a new session, writes stdin to it and closes its standard input. It
// returns what the command wrote, and the error of ssh.Session.Run, which is an
// *ssh.ExitError when the command exited with a non-zero status. Stdout beyond maxStdout is
// an error, and ends the session; stderr beyond maxStderrSize is dropped.
// Cancelling ctx closes the session and returns at once. OpenSSH then closes the command's
// pipes without signalling it; the helper notices that its stdout lost its reader and cancels
// the calls it runs.
func (c *Client) run(
	ctx context.Context, command string, stdin []byte, maxStdout int,
) ([]byte, string, error) {
	session, release, err := c.conn.openSession(ctx)
	if err != nil {
		return nil, "", err
	}

	stdout := &cappedBuffer{limit: maxStdout, onOverflow: func() { session.Close() }}
	stderr := &cappedBuffer{limit: maxStderrSize}
	session.Stdout = stdout
	session.Stderr = stderr
	session.Stdin = bytes.NewReader(stdin)

	finished := make(chan error, 1)
	go func() {
		err := session.Run(command)
		session.Close()
		release()
		finished <- err
	}()
	select {
	case err = <-finished:
	case <-ctx.Done():
		// Run returns once the device confirms the close, or the connection dies. The
		// session keeps its slot until then, so no more than MaxSessions are ever open.
		session.Close()
		return nil, stderr.String(), ctx.Err()
	}
	if stdout.overflowed() {
		return nil, stderr.String(), fmt.Errorf("output exceeds %d bytes", maxStdout)
	}
	return stdout.Bytes(), stderr.String(), err
}

// commandError describes a failed command, with the end of what it wrote to stderr. action
// names the command for the message, such as `run "uname -m"`.
func (c *Client) commandError(action string, err error, stderr string) error {
	detail := stderrTail(stderr)
	if detail != "" {
		detail = ": " + detail
	}

	var exitErr *ssh.ExitError
	var exitMissing *ssh.ExitMissingError
	switch {
	case errors.As(err, &exitErr):
		return fmt.Errorf("%s on device %s: %w%s", action, c.target.ID(), err, detail)
	case errors.As(err, &exitMissing):
		return fmt.Errorf("%s on device %s: the connection broke or a signal killed the command: %w%s",
			action, c.target.ID(), err, detail)
	default:
		return fmt.Errorf("%s on device %s: %w", action, c.target.ID(), err)
	}
}

// stderrTail returns the end of a command's stderr, short enough for an error message.
func stderrTail(stderr string) string {
	tail := strings.TrimSpace(stderr)
	if len(tail) > maxStderrInMessages {
		tail = "..." + tail[len(tail)-maxStderrInMessages:]
	}
	return tail
}

// cappedBuffer keeps up to limit bytes. Past the limit it drops the rest and calls onOverflow
// once. Writes never fail, so the SSH channel keeps draining.
type cappedBuffer struct {
	limit      int
	onOverflow func()

	mu       sync.Mutex
	buffer   bytes.Buffer
	overflow bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.limit - b.buffer.Len()
	if len(p) <= room {
		b.buffer.Write(p)
		return len(p), nil
	}
	b.buffer.Write(p[:max(room, 0)])
	if !b.overflow {
		b.overflow = true
		if b.onOverflow != nil {
			go b.onOverflow()
		}
	}
	return len(p), nil
}

func (b *cappedBuffer) overflowed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.overflow
}

func (b *cappedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buffer.Bytes())
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buffer.String()
}
