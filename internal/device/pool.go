package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"time"
)

// DefaultMaxSessions applies when Credentials.MaxSessions is zero. It matches the default of
// sshd's MaxSessions.
const DefaultMaxSessions = 10

// ErrPoolClosed is returned by a Pool, and by the Clients it returned, after Close.
var ErrPoolClosed = errors.New("device connection pool is closed")

// Pool shares one SSH connection per device among all callers in the process. A device is
// identified by user, address and pinned host key. The pool dials on first use, closes a
// connection that has had no session open for the idle timeout, and dials again on the next
// use. It is safe for concurrent use.
type Pool struct {
	creds       Credentials
	idleTimeout time.Duration
	maxSessions int
	auth        *authenticator

	// livenessCheckAfter is defaultLivenessCheckAfter, shorter in tests.
	livenessCheckAfter time.Duration

	// coalesceIdleWindow and coalesceBusyWindow are idleWindow and busyWindow, other values in
	// tests.
	coalesceIdleWindow time.Duration
	coalesceBusyWindow time.Duration

	mu          sync.Mutex
	log         Logger
	connections map[connectionKey]*connection
	closed      bool
}

type connectionKey struct {
	user    string
	address string
	hostKey string
}

// NewPool returns a pool that reaches devices with creds. A connection with no open session is
// closed after idleTimeout. Zero keeps connections open until Close.
func NewPool(creds Credentials, idleTimeout time.Duration) *Pool {
	creds.PrivateKey = bytes.Clone(creds.PrivateKey)
	creds.PrivateKeyPassphrase = bytes.Clone(creds.PrivateKeyPassphrase)
	maxSessions := creds.MaxSessions
	if maxSessions <= 0 {
		maxSessions = DefaultMaxSessions
	}
	return &Pool{
		creds:       creds,
		idleTimeout: idleTimeout,
		maxSessions: maxSessions,
		auth:        &authenticator{creds: creds},

		livenessCheckAfter: defaultLivenessCheckAfter,
		coalesceIdleWindow: idleWindow,
		coalesceBusyWindow: busyWindow,
		log:                nopLogger{},
		connections:        make(map[connectionKey]*connection),
	}
}

// SetLogger sets the logger for the pool's debug events. A nil logger discards them.
func (p *Pool) SetLogger(logger Logger) {
	if logger == nil {
		logger = nopLogger{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = logger
}

func (p *Pool) logger() Logger {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log
}

// Get returns a client for target, connecting first unless the pool holds a live connection
// to the device. Zero Port, User, StateDir and LXCPath take their defaults.
func (p *Pool) Get(ctx context.Context, target Target) (*Client, error) {
	target = withDefaults(target)
	if err := validateTarget(target); err != nil {
		return nil, err
	}
	key := connectionKey{user: target.User, address: target.Address()}
	if target.HostKey != "" {
		normalized, err := NormalizeHostKey(target.HostKey)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", target.ID(), err)
		}
		key.hostKey = normalized
	}

	conn, err := p.connection(key, target)
	if err != nil {
		return nil, err
	}
	_, dialed, err := conn.connect(ctx)
	if err != nil {
		return nil, err
	}
	if !dialed {
		p.logger().Debug(ctx, "reusing connection to device", targetFields(target))
	}
	return &Client{conn: conn, target: target}, nil
}

func (p *Pool) connection(key connectionKey, target Target) (*connection, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrPoolClosed
	}
	conn, ok := p.connections[key]
	if !ok {
		conn = newConnection(p, target)
		p.connections[key] = conn
	}
	return conn, nil
}

// Close closes every connection. Sessions still open fail, and later calls return
// ErrPoolClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	connections := make([]*connection, 0, len(p.connections))
	for _, conn := range p.connections {
		connections = append(connections, conn)
	}
	p.mu.Unlock()

	var errs []error
	for _, conn := range connections {
		if err := conn.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func withDefaults(target Target) Target {
	if target.Port == 0 {
		target.Port = DefaultPort
	}
	if target.User == "" {
		target.User = DefaultUser
	}
	if target.StateDir == "" {
		target.StateDir = DefaultStateDir
	}
	if target.LXCPath == "" {
		target.LXCPath = DefaultLXCPath
	}
	return target
}

func validateTarget(target Target) error {
	switch {
	case target.Host == "":
		return errors.New("invalid device: host is empty")
	case target.Port < 1 || target.Port > 65535:
		return fmt.Errorf("invalid device %s: port %d is outside 1-65535", target.Host, target.Port)
	case !path.IsAbs(target.StateDir):
		return fmt.Errorf("invalid device %s: state_dir %q is not an absolute path", target.ID(), target.StateDir)
	case !path.IsAbs(target.LXCPath):
		return fmt.Errorf("invalid device %s: lxc_path %q is not an absolute path", target.ID(), target.LXCPath)
	}
	return nil
}
