package device

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultConnectTimeout applies when Credentials.ConnectTimeout is zero.
const DefaultConnectTimeout = 30 * time.Second

// Dial retries back off exponentially between these delays.
const (
	initialRetryDelay = 100 * time.Millisecond
	maxRetryDelay     = 2 * time.Second
)

// errConnectTimeout is the cause of a dial context that ran out of ConnectTimeout, to
// distinguish it from a caller's own deadline.
var errConnectTimeout = errors.New("connect timeout")

// errProbeDone ends a probe handshake once the server has shown its host key.
var errProbeDone = errors.New("host key probe done")

func (p *Pool) connectTimeout() time.Duration {
	if p.creds.ConnectTimeout > 0 {
		return p.creds.ConnectTimeout
	}
	return DefaultConnectTimeout
}

// dial opens and authenticates one SSH connection to target and returns it with the verified
// host key. Only the TCP connect is retried, because handshake, host key and auth errors do
// not go away on their own.
func (p *Pool) dial(ctx context.Context, target Target) (*ssh.Client, ssh.PublicKey, error) {
	timeout := p.connectTimeout()
	dialCtx, cancel := context.WithTimeoutCause(ctx, timeout, errConnectTimeout)
	defer cancel()

	verifier, err := newHostKeyVerifier(target, p.creds.KnownHostsFile)
	if err != nil {
		return nil, nil, err
	}
	fields := targetFields(target)
	auth, closeAgent, err := p.auth.authMethods(dialCtx, p.logger(), fields)
	if err != nil {
		return nil, nil, err
	}
	defer closeAgent()

	started := time.Now()
	conn, err := p.dialTCP(dialCtx, target)
	if err != nil {
		return nil, nil, err
	}
	config := &ssh.ClientConfig{
		User:              target.User,
		Auth:              auth,
		HostKeyCallback:   verifier.check,
		HostKeyAlgorithms: verifier.algorithms,
	}
	client, err := handshake(dialCtx, conn, target.Address(), config)
	if isHostKeyNegotiationError(err) {
		err = p.probeHostKey(dialCtx, target, verifier, err)
	}
	if err != nil {
		return nil, nil, handshakeError(dialCtx, target, timeout, err)
	}
	fields["duration_ms"] = time.Since(started).Milliseconds()
	p.logger().Debug(ctx, "connected to device", fields)
	return client, verifier.verified, nil
}

// ErrDial matches the errors of a device that could not be reached over the network: the TCP
// connection was refused, timed out or had no route, or the SSH handshake did not finish in time.
var ErrDial = errors.New("device unreachable")

// dialError marks err as matching ErrDial without changing its message.
type dialError struct{ err error }

func (e dialError) Error() string   { return e.err.Error() }
func (e dialError) Unwrap() []error { return []error{ErrDial, e.err} }

// dialTCP connects to target, retrying network errors with exponential backoff until ctx ends.
func (p *Pool) dialTCP(ctx context.Context, target Target) (net.Conn, error) {
	var dialer net.Dialer
	delay := initialRetryDelay
	for attempt := 1; ; attempt++ {
		conn, err := dialer.DialContext(ctx, "tcp", target.Address())
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, dialError{connectTimeoutError(ctx, target, p.connectTimeout(), err)}
		}
		if !isRetryableDialError(err) {
			return nil, dialError{fmt.Errorf("connect to device %s: %w", target.Address(), err)}
		}

		fields := targetFields(target)
		fields["attempt"] = attempt
		fields["retry_in_ms"] = delay.Milliseconds()
		fields["error"] = err.Error()
		p.logger().Debug(ctx, "connect to device failed, retrying", fields)
		if !sleepContext(ctx, delay) {
			return nil, dialError{connectTimeoutError(ctx, target, p.connectTimeout(), err)}
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// isRetryableDialError reports whether a failed TCP connect may succeed later: the port is
// closed while sshd starts, or the network is not up yet.
func isRetryableDialError(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	for _, errno := range retryableErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

func sleepContext(ctx context.Context, delay time.Duration) bool {
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// handshake runs the SSH handshake on conn, bounded by ctx's deadline and cancellation.
// It closes conn on failure.
func handshake(
	ctx context.Context, conn net.Conn, address string, config *ssh.ClientConfig,
) (*ssh.Client, error) {
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	// A deadline in the past makes the blocked reads and writes of the handshake fail at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	sshConn, channels, requests, err := ssh.NewClientConn(conn, address, config)
	if !stop() && err == nil {
		sshConn.Close()
		return nil, context.Cause(ctx)
	}
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(sshConn, channels, requests), nil
}

// probeHostKey runs a second handshake that accepts any host key algorithm, after the server
// rejected every algorithm of the trusted key types, so that the error can show the key the
// server has. The probe stops before authentication.
func (p *Pool) probeHostKey(
	ctx context.Context, target Target, verifier *hostKeyVerifier, negotiationErr error,
) error {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", target.Address())
	if err != nil {
		return negotiationErr
	}
	var checkErr error
	config := &ssh.ClientConfig{
		User: target.User,
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			checkErr = verifier.check(hostname, remote, key)
			return errProbeDone
		},
	}
	_, err = handshake(ctx, conn, target.Address(), config)
	if !errors.Is(err, errProbeDone) || checkErr == nil {
		return negotiationErr
	}
	verifier.verified = nil
	return checkErr
}

// handshakeError explains a failed handshake. A *HostKeyError is returned as it is.
func handshakeError(ctx context.Context, target Target, timeout time.Duration, err error) error {
	var hostKeyErr *HostKeyError
	switch {
	case errors.As(err, &hostKeyErr):
		return hostKeyErr
	case ctx.Err() != nil:
		return dialError{connectTimeoutError(ctx, target, timeout, err)}
	case strings.Contains(err.Error(), "unable to authenticate"):
		return fmt.Errorf("authenticate as user %q on device %s: %w; "+
			"check that the user's authorized_keys on the device lists the provider's key",
			target.User, target.Address(), err)
	default:
		return fmt.Errorf("ssh handshake with device %s: %w", target.Address(), err)
	}
}

// connectTimeoutError reports that ctx ended while connecting. It wraps the caller's context
// error when the caller gave up, and describes the last failure when ConnectTimeout ran out.
func connectTimeoutError(ctx context.Context, target Target, timeout time.Duration, last error) error {
	if context.Cause(ctx) == errConnectTimeout {
		return fmt.Errorf("connect to device %s: timed out after %s (connect_timeout): %w",
			target.Address(), timeout, last)
	}
	return fmt.Errorf("connect to device %s: %w (last error: %v)", target.Address(), ctx.Err(), last)
}
