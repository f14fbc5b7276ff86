package device

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// defaultLivenessCheckAfter is how long a connection may go unused before the next use first
// checks that the device still responds. The watch goroutine notices at once a connection
// that sshd closed, but a silently broken TCP path shows only when a request gets no reply.
const defaultLivenessCheckAfter = 5 * time.Second

// connection is the pool's entry for one device. It holds at most one SSH client at a time
// and replaces it when it dies or is closed for idleness.
type connection struct {
	pool   *Pool
	target Target

	// sessions is a semaphore with one slot per session that may be open at once.
	sessions chan struct{}

	// reads gathers concurrent read-only helper calls into shared requests.
	reads *readCoalescer

	mu       sync.Mutex
	client   *ssh.Client
	hostKey  ssh.PublicKey
	dialing  *dialCall
	inUse    int
	lastUsed time.Time
	closed   bool

	idleTimer *time.Timer
	// idleGeneration invalidates an idle timer that fired after its connection was used again.
	idleGeneration uint64

	// helpers records, by helper path, the helper that EnsureHelper put in place over client,
	// so that ReadyHelper can skip the check until the connection is replaced.
	helpers map[string]helperCheck

	// logContext carries the logger of the request that dialed, for events that no request
	// triggers, such as an idle close.
	logContext context.Context
}

// dialCall is a dial in progress that concurrent callers wait for instead of dialing again.
type dialCall struct {
	done chan struct{}
	err  error
}

func newConnection(pool *Pool, target Target) *connection {
	return &connection{
		pool:       pool,
		target:     target,
		sessions:   make(chan struct{}, pool.maxSessions),
		reads:      newReadCoalescer(pool.coalesceIdleWindow, pool.coalesceBusyWindow, pool.logger),
		logContext: context.Background(),
	}
}

// connect returns the live SSH client, dialing when there is none, and reports whether this
// call dialed. Concurrent callers share one dial.
func (c *connection) connect(ctx context.Context) (*ssh.Client, bool, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, false, ErrPoolClosed
		}

		if client := c.client; client != nil {
			stale := time.Since(c.lastUsed) > c.pool.livenessCheckAfter
			c.mu.Unlock()
			if !stale {
				return client, false, nil
			}
			alive, err := c.checkAlive(ctx, client)
			if err != nil {
				return nil, false, err
			}
			if alive {
				return client, false, nil
			}
			c.discard(client, "device did not respond to a keepalive request")
			continue
		}

		if call := c.dialing; call != nil {
			c.mu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				return nil, false, fmt.Errorf("connect to device %s: %w", c.target.Address(), ctx.Err())
			}
			// A dial that ended because its caller gave up is no verdict on the device, so this
			// caller dials again.
			if call.err != nil && !(isContextError(call.err) && ctx.Err() == nil) {
				return nil, false, call.err
			}
			continue
		}

		call := &dialCall{done: make(chan struct{})}
		c.dialing = call
		c.mu.Unlock()
		c.dial(ctx, call)
		if call.err != nil {
			return nil, false, call.err
		}
		client := c.currentClient()
		if client == nil {
			return nil, false, fmt.Errorf("connect to device %s: the connection closed right after it was opened",
				c.target.Address())
		}
		return client, true, nil
	}
}

func (c *connection) dial(ctx context.Context, call *dialCall) {
	c.pool.logger().Debug(ctx, "connecting to device", targetFields(c.target))
	client, hostKey, err := c.pool.dial(ctx, c.target)

	c.mu.Lock()
	defer c.mu.Unlock()
	defer close(call.done)
	c.dialing = nil
	if err == nil && c.closed {
		client.Close()
		err = ErrPoolClosed
	}
	call.err = err
	if err != nil {
		return
	}
	c.client = client
	c.hostKey = hostKey
	c.lastUsed = time.Now()
	c.logContext = context.WithoutCancel(ctx)
	go c.watch(client)
	if c.inUse == 0 {
		c.armIdleTimerLocked()
	}
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (c *connection) currentClient() *ssh.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.client
}

// checkAlive sends a keepalive request and waits up to the connect timeout for any reply.
func (c *connection) checkAlive(ctx context.Context, client *ssh.Client) (bool, error) {
	replied := make(chan error, 1)
	go func() {
		_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
		replied <- err
	}()
	timer := time.NewTimer(c.pool.connectTimeout())
	defer timer.Stop()
	select {
	case err := <-replied:
		return err == nil, nil
	case <-timer.C:
		return false, nil
	case <-ctx.Done():
		return false, fmt.Errorf("check connection to device %s: %w", c.target.Address(), ctx.Err())
	}
}

// watch clears client from the entry as soon as its connection ends, so that the next use
// dials again.
func (c *connection) watch(client *ssh.Client) {
	err := client.Wait()
	c.mu.Lock()
	lost := c.client == client
	if lost {
		c.client = nil
	}
	ctx := c.logContext
	c.mu.Unlock()
	if lost {
		fields := targetFields(c.target)
		if err != nil {
			fields["error"] = err.Error()
		}
		c.pool.logger().Debug(ctx, "connection to device lost", fields)
	}
}

// discard closes client and clears it from the entry if it is still the current one.
func (c *connection) discard(client *ssh.Client, reason string) {
	c.mu.Lock()
	if c.client == client {
		c.client = nil
	}
	ctx := c.logContext
	c.mu.Unlock()
	client.Close()
	fields := withField(targetFields(c.target), "reason", reason)
	c.pool.logger().Debug(ctx, "closed broken connection to device", fields)
}

// openSession waits for a free session slot, then opens a session, reconnecting once when the
// connection turns out to be dead. The caller must call release after closing the session.
func (c *connection) openSession(ctx context.Context) (session *ssh.Session, release func(), err error) {
	select {
	case c.sessions <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("wait for a free SSH session on device %s: %w", c.target.Address(), ctx.Err())
	}
	c.beginUse()
	release = sync.OnceFunc(func() {
		c.endUse()
		<-c.sessions
	})

	retries, reconnected := 0, false
	for {
		client, _, err := c.connect(ctx)
		if err != nil {
			release()
			return nil, nil, err
		}
		session, err := newSession(ctx, client)
		if err == nil {
			return session, release, nil
		}
		// An OpenChannelError is the device's reply on a working connection. sshd replies
		// "open failed" while it still counts sessions that this side has closed already, so
		// that reply is retried for a while. Any other error means the connection broke since
		// its last use, so it is replaced once.
		var openErr *ssh.OpenChannelError
		if errors.As(err, &openErr) && openErr.Reason == ssh.ConnectionFailed && retries < sessionOpenRetries {
			retries++
			if !sleepContext(ctx, sessionRetryDelay(retries)) {
				release()
				return nil, nil, fmt.Errorf("open SSH session on device %s: %w", c.target.Address(), ctx.Err())
			}
			continue
		}
		if errors.As(err, &openErr) || ctx.Err() != nil || reconnected {
			release()
			return nil, nil, sessionOpenError(c.target, err)
		}
		reconnected = true
		c.discard(client, "open session failed: "+err.Error())
	}
}

// sessionOpenRetries bounds the retries of a session that sshd rejected; with
// sessionRetryDelay they span about ten seconds.
const sessionOpenRetries = 12

// sessionRetryDelay returns the wait before retry number attempt: 50 ms doubling up to 1 s.
func sessionRetryDelay(attempt int) time.Duration {
	delay := 50 * time.Millisecond << min(attempt-1, 5)
	return min(delay, time.Second)
}

// sessionOpenError explains a session that could not be opened.
func sessionOpenError(target Target, err error) error {
	var openErr *ssh.OpenChannelError
	if errors.As(err, &openErr) && openErr.Reason == ssh.ConnectionFailed {
		return fmt.Errorf("open SSH session on device %s: %w; the device's sshd rejected more sessions, so "+
			"lower the provider's max_sessions below the sshd MaxSessions setting", target.Address(), err)
	}
	return fmt.Errorf("open SSH session on device %s: %w", target.Address(), err)
}

// newSession opens a session on client and gives up when ctx ends. ssh.Client.NewSession
// takes no context and blocks as long as the device does not respond.
func newSession(ctx context.Context, client *ssh.Client) (*ssh.Session, error) {
	type result struct {
		session *ssh.Session
		err     error
	}
	opened := make(chan result, 1)
	go func() {
		session, err := client.NewSession()
		opened <- result{session, err}
	}()
	select {
	case r := <-opened:
		return r.session, r.err
	case <-ctx.Done():
		go func() {
			if r := <-opened; r.session != nil {
				r.session.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// beginUse marks a session slot taken. It leaves lastUsed alone, so that connect still checks
// a connection that has been quiet for a while.
func (c *connection) beginUse() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inUse++
	c.stopIdleTimerLocked()
}

func (c *connection) endUse() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inUse--
	if c.client == nil {
		return
	}
	c.lastUsed = time.Now()
	if c.inUse == 0 {
		c.armIdleTimerLocked()
	}
}

func (c *connection) armIdleTimerLocked() {
	c.stopIdleTimerLocked()
	if c.pool.idleTimeout <= 0 {
		return
	}
	generation := c.idleGeneration
	c.idleTimer = time.AfterFunc(c.pool.idleTimeout, func() { c.closeIdle(generation) })
}

func (c *connection) stopIdleTimerLocked() {
	c.idleGeneration++
	if c.idleTimer != nil {
		c.idleTimer.Stop()
		c.idleTimer = nil
	}
}

func (c *connection) closeIdle(generation uint64) {
	c.mu.Lock()
	client := c.client
	if generation != c.idleGeneration || c.inUse > 0 || client == nil {
		c.mu.Unlock()
		return
	}
	c.client = nil
	c.idleTimer = nil
	ctx := c.logContext
	c.mu.Unlock()

	client.Close()
	fields := withField(targetFields(c.target), "idle_timeout", c.pool.idleTimeout.String())
	c.pool.logger().Debug(ctx, "closed idle connection to device", fields)
}

// close closes the connection for good.
func (c *connection) close() error {
	c.mu.Lock()
	c.closed = true
	c.stopIdleTimerLocked()
	client := c.client
	c.client = nil
	c.mu.Unlock()

	if client == nil {
		return nil
	}
	if err := client.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close connection to device %s: %w", c.target.Address(), err)
	}
	return nil
}

func (c *connection) hostKeyText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hostKey == nil {
		return ""
	}
	return authorizedKey(c.hostKey)
}

// helperCheck is a helper that EnsureHelper put in place over one SSH client.
type helperCheck struct {
	client *ssh.Client
	status HelperStatus
}

func (c *connection) rememberHelper(helperPath string, status HelperStatus) {
	client := c.currentClient()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.helpers == nil {
		c.helpers = make(map[string]helperCheck)
	}
	c.helpers[helperPath] = helperCheck{client: client, status: status}
}

// checkedHelper returns the remembered status of the helper at helperPath, if the check was
// made over the connection's current client.
func (c *connection) checkedHelper(helperPath string) (HelperStatus, bool) {
	client := c.currentClient()
	c.mu.Lock()
	defer c.mu.Unlock()
	check, ok := c.helpers[helperPath]
	if !ok || client == nil || check.client != client {
		return HelperStatus{}, false
	}
	return check.status, true
}
