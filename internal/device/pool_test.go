package device

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func pinnedTarget(server *testServer) Target {
	return server.target(authorizedKey(testEd25519HostKey().PublicKey()))
}

// waitFor polls condition until it holds or two seconds pass.
func waitFor(t *testing.T, what string, condition func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !condition() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPoolReusesConnection(t *testing.T) {
	server := newTestServer(t)
	pool := NewPool(testCredentials(), time.Minute)
	defer pool.Close()
	logger := &recordingLogger{}
	pool.SetLogger(logger)
	ctx := context.Background()

	for i := range 3 {
		client, err := pool.Get(ctx, pinnedTarget(server))
		if err != nil {
			t.Fatalf("Get() #%d error = %v", i, err)
		}
		machine, err := client.Machine(ctx)
		if err != nil {
			t.Fatalf("Machine() #%d error = %v", i, err)
		}
		if machine != "x86_64" {
			t.Errorf("Machine() = %q, want x86_64", machine)
		}
	}
	if got := server.connections.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}
	if got := logger.count("reusing connection to device"); got != 2 {
		t.Errorf("logged %d reuses, want 2", got)
	}
	entry, ok := logger.find("connected to device")
	if !ok {
		t.Fatalf("no connect logged")
	}
	if entry.fields["host"] != "127.0.0.1" || entry.fields["port"] != server.port() || entry.fields["user"] != "root" {
		t.Errorf("connect log fields = %v, want host, port and user of the target", entry.fields)
	}
}

func TestPoolConcurrentGetDialsOnce(t *testing.T) {
	server := newTestServer(t, withHandshakeDelay(100*time.Millisecond))
	pool := NewPool(testCredentials(), time.Minute)
	defer pool.Close()

	const callers = 20
	errs := make(chan error, callers)
	var start sync.WaitGroup
	start.Add(1)
	for range callers {
		go func() {
			start.Wait()
			client, err := pool.Get(context.Background(), pinnedTarget(server))
			if err == nil {
				_, err = client.Machine(context.Background())
			}
			errs <- err
		}()
	}
	start.Done()
	for range callers {
		if err := <-errs; err != nil {
			t.Errorf("Get() or Machine() error = %v", err)
		}
	}
	if got := server.connections.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}
}

func TestPoolSeparatesDevices(t *testing.T) {
	server := newTestServer(t)
	pool := NewPool(testCredentials(), time.Minute)
	defer pool.Close()

	target := pinnedTarget(server)
	other := target
	other.User = "admin"
	for _, target := range []Target{target, other, target} {
		if _, err := pool.Get(context.Background(), target); err != nil {
			t.Fatalf("Get(%s) error = %v", target.ID(), err)
		}
	}
	if got := server.connections.Load(); got != 2 {
		t.Errorf("server saw %d connections for two users, want 2", got)
	}
}

func TestPoolIdleCloseRedials(t *testing.T) {
	server := newTestServer(t)
	pool := NewPool(testCredentials(), 100*time.Millisecond)
	defer pool.Close()
	logger := &recordingLogger{}
	pool.SetLogger(logger)
	ctx := context.Background()

	client, err := pool.Get(ctx, pinnedTarget(server))
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if _, err := client.Machine(ctx); err != nil {
		t.Fatalf("Machine() error = %v", err)
	}
	waitFor(t, "the idle connection is closed", func() bool { return server.activeConnections() == 0 })
	if got := logger.count("closed idle connection to device"); got != 1 {
		t.Errorf("logged %d idle closes, want 1", got)
	}

	if _, err := client.Machine(ctx); err != nil {
		t.Fatalf("Machine() after idle close error = %v", err)
	}
	if got := server.connections.Load(); got != 2 {
		t.Errorf("server saw %d connections, want 2", got)
	}
}

func TestPoolIdleTimeoutWaitsForSessions(t *testing.T) {
	server := newTestServer(t)
	server.setServe(func(request protocol.Request) ([]byte, string, int) {
		time.Sleep(400 * time.Millisecond)
		return echoServe(request)
	})
	target := pinnedTarget(server)
	installFakeHelper(t, target)
	pool := NewPool(testCredentials(), 50*time.Millisecond)
	defer pool.Close()

	client, err := pool.Get(context.Background(), target)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if err := client.Call(context.Background(), protocol.OpHello, nil, nil); err != nil {
		t.Fatalf("Call() error = %v", err)
	}
	if got := server.connections.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1: the idle timer closed a busy connection", got)
	}
	waitFor(t, "the connection is closed after the session", func() bool { return server.activeConnections() == 0 })
}

func TestPoolMaxSessions(t *testing.T) {
	server := newTestServer(t)
	server.setServe(func(request protocol.Request) ([]byte, string, int) {
		time.Sleep(50 * time.Millisecond)
		return echoServe(request)
	})
	target := pinnedTarget(server)
	installFakeHelper(t, target)
	creds := testCredentials()
	creds.MaxSessions = 3
	pool := NewPool(creds, time.Minute)
	defer pool.Close()
	client, err := pool.Get(context.Background(), target)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}

	const calls = 12
	errs := make(chan error, calls)
	for i := range calls {
		go func() {
			if i%3 == 0 {
				errs <- client.SFTP(context.Background(), func(sftpClient *sftp.Client) error {
					_, err := sftpClient.Stat(target.HelperPath())
					time.Sleep(50 * time.Millisecond)
					return err
				})
				return
			}
			// A change, so that each call takes a session of its own.
			errs <- client.Call(context.Background(), protocol.OpContainerApply, nil, nil)
		}()
	}
	for range calls {
		if err := <-errs; err != nil {
			t.Errorf("call error = %v", err)
		}
	}
	if got := server.maxSessions.Load(); got != 3 {
		t.Errorf("server saw at most %d sessions at once, want exactly 3", got)
	}
}

func TestPoolRetriesUntilServerStarts(t *testing.T) {
	// Reserve a port, then free it so that connecting is refused until the server starts.
	reserved, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	address := reserved.Addr().String()
	port := reserved.Addr().(*net.TCPAddr).Port
	reserved.Close()

	pool := NewPool(testCredentials(), time.Minute)
	defer pool.Close()
	logger := &recordingLogger{}
	pool.SetLogger(logger)
	target := Target{Host: "127.0.0.1", Port: port, HostKey: authorizedKey(testEd25519HostKey().PublicKey())}

	done := make(chan error, 1)
	go func() {
		_, err := pool.Get(context.Background(), target)
		done <- err
	}()
	time.Sleep(400 * time.Millisecond)
	listener, err := net.Listen("tcp", address)
	if err != nil {
		t.Skipf("port %d was taken meanwhile: %v", port, err)
	}
	newTestServer(t, withListener(listener))

	if err := <-done; err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if got := logger.count("connect to device failed, retrying"); got < 2 {
		t.Errorf("logged %d retries, want at least 2", got)
	}
}

func TestPoolConnectTimeout(t *testing.T) {
	reserved, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	port := reserved.Addr().(*net.TCPAddr).Port
	reserved.Close()

	creds := testCredentials()
	creds.ConnectTimeout = 300 * time.Millisecond
	pool := NewPool(creds, time.Minute)
	defer pool.Close()

	started := time.Now()
	_, err = pool.Get(context.Background(), Target{Host: "127.0.0.1", Port: port, HostKey: authorizedKey(testEd25519HostKey().PublicKey())})
	elapsed := time.Since(started)
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Errorf("Get() error = %v, want a timeout after 300ms", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("Get() took %s, want about 300ms", elapsed)
	}
}

func TestPoolNoRetryOnAuthFailure(t *testing.T) {
	server := newTestServer(t, withAuthorizedKey(newEd25519Signer().PublicKey()))
	pool := NewPool(testCredentials(), time.Minute)
	defer pool.Close()

	_, err := pool.Get(context.Background(), pinnedTarget(server))
	if err == nil || !strings.Contains(err.Error(), `authenticate as user "root"`) {
		t.Fatalf("Get() error = %v, want an authentication error", err)
	}
	if got := server.connections.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}
}

func TestPoolRedialsAfterServerDrops(t *testing.T) {
	server := newTestServer(t)
	pool := NewPool(testCredentials(), time.Minute)
	defer pool.Close()
	logger := &recordingLogger{}
	pool.SetLogger(logger)
	ctx := context.Background()

	client, err := pool.Get(ctx, pinnedTarget(server))
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if _, err := client.Machine(ctx); err != nil {
		t.Fatalf("Machine() error = %v", err)
	}
	server.dropConnections()
	waitFor(t, "the pool notices the lost connection", func() bool { return logger.count("connection to device lost") == 1 })

	if _, err := client.Machine(ctx); err != nil {
		t.Fatalf("Machine() after the server dropped the connection error = %v", err)
	}
	if got := server.connections.Load(); got != 2 {
		t.Errorf("server saw %d connections, want 2", got)
	}
}

func TestPoolRedialsWhenSessionOpenFails(t *testing.T) {
	server := newTestServer(t)
	pool := NewPool(testCredentials(), time.Minute)
	defer pool.Close()
	ctx := context.Background()

	client, err := pool.Get(ctx, pinnedTarget(server))
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	server.dropNextSession.Store(true)
	if _, err := client.Machine(ctx); err != nil {
		t.Fatalf("Machine() error = %v", err)
	}
	if got := server.connections.Load(); got != 2 {
		t.Errorf("server saw %d connections, want 2", got)
	}
}

func TestPoolRetriesRejectedSession(t *testing.T) {
	server := newTestServer(t)
	pool := NewPool(testCredentials(), time.Minute)
	defer pool.Close()
	ctx := context.Background()

	client, err := pool.Get(ctx, pinnedTarget(server))
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	server.rejectSessions.Store(3)
	if _, err := client.Machine(ctx); err != nil {
		t.Fatalf("Machine() error = %v, want success after the rejected opens", err)
	}
	if got := server.connections.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1: a rejected session must not redial", got)
	}
}

func TestPoolRejectedSessionNamesMaxSessions(t *testing.T) {
	server := newTestServer(t)
	pool := NewPool(testCredentials(), time.Minute)
	defer pool.Close()
	ctx := context.Background()

	client, err := pool.Get(ctx, pinnedTarget(server))
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	server.rejectSessions.Store(1000)
	_, err = client.Machine(ctx)
	if err == nil {
		t.Fatal("Machine() succeeded although every session was rejected")
	}
	if !strings.Contains(err.Error(), "max_sessions") {
		t.Errorf("Machine() error = %q, want it to name max_sessions", err)
	}
}

func TestPoolRedialsBrokenTCP(t *testing.T) {
	server := newTestServer(t)
	proxy := newFreezingProxy(t, server.listener.Addr().String())
	creds := testCredentials()
	creds.ConnectTimeout = 500 * time.Millisecond
	pool := NewPool(creds, time.Minute)
	defer pool.Close()
	pool.livenessCheckAfter = 50 * time.Millisecond
	ctx := context.Background()

	target := pinnedTarget(server)
	target.Port = proxy.port()
	client, err := pool.Get(ctx, target)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if _, err := client.Machine(ctx); err != nil {
		t.Fatalf("Machine() error = %v", err)
	}

	// The frozen path neither delivers nor closes anything, like a pulled cable.
	proxy.freeze()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := client.Machine(ctx); err != nil {
		t.Fatalf("Machine() over a broken path error = %v", err)
	}
	if got := server.connections.Load(); got != 2 {
		t.Errorf("server saw %d connections, want 2", got)
	}
}

func TestPoolClose(t *testing.T) {
	server := newTestServer(t)
	pool := NewPool(testCredentials(), time.Minute)
	client, err := pool.Get(context.Background(), pinnedTarget(server))
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if err := pool.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	waitFor(t, "the server has no connection", func() bool { return server.activeConnections() == 0 })
	if _, err := client.Machine(context.Background()); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Machine() after Close error = %v, want ErrPoolClosed", err)
	}
	if _, err := pool.Get(context.Background(), pinnedTarget(server)); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Get() after Close error = %v, want ErrPoolClosed", err)
	}
}

func TestPoolInvalidTarget(t *testing.T) {
	pool := NewPool(testCredentials(), 0)
	defer pool.Close()
	tests := []struct {
		name    string
		target  Target
		wantErr string
	}{
		{name: "no host", target: Target{}, wantErr: "host is empty"},
		{name: "bad port", target: Target{Host: "device", Port: 70000}, wantErr: "port 70000"},
		{name: "relative state dir", target: Target{Host: "device", StateDir: "state"}, wantErr: "state_dir"},
		{name: "bad host key", target: Target{Host: "device", HostKey: "ssh-ed25519 nonsense"}, wantErr: "invalid host_key"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			_, err := pool.Get(context.Background(), test.target)
			if err == nil || !strings.Contains(err.Error(), test.wantErr) {
				t.Errorf("Get() error = %v, want one containing %q", err, test.wantErr)
			}
		})
	}
}

// installFakeHelper creates the helper file, so that the test server's `serve` runs.
func installFakeHelper(t *testing.T, target Target) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(target.HelperPath()), 0o755); err != nil {
		t.Fatalf("create helper folder: %v", err)
	}
	if err := os.WriteFile(target.HelperPath(), []byte("fake helper"), 0o755); err != nil {
		t.Fatalf("write helper: %v", err)
	}
}
