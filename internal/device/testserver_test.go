package device

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// serveFunc plays the helper's `serve` command in the test server: it gets the decoded request
// and returns what the helper writes to stdout and stderr, and its exit status.
type serveFunc func(request protocol.Request) (stdout []byte, stderr string, status int)

// testServer is an in-process SSH server on loopback that stands in for a device. It answers
// `uname -m`, runs `'<helper path>' serve` through a serveFunc when the helper file exists, and
// serves SFTP on the local filesystem, so a Target's StateDir can point into t.TempDir().
type testServer struct {
	t        *testing.T
	listener net.Listener
	config   *ssh.ServerConfig

	handshakeDelay time.Duration

	mu       sync.Mutex
	serve    serveFunc
	machine  string
	commands []string
	conns    map[net.Conn]bool
	closed   bool

	// dropNextSession makes the server close the TCP connection instead of accepting the
	// next session, as an sshd that dies at that moment would.
	dropNextSession atomic.Bool

	// rejectSessions makes the server reject that many session opens with "open failed", as
	// sshd does while it is at its MaxSessions.
	rejectSessions atomic.Int64

	connections  atomic.Int64
	authAttempts atomic.Int64
	openSessions atomic.Int64
	maxSessions  atomic.Int64
	hostKeyAlgo  atomic.Value
	wg           sync.WaitGroup
}

type testServerOption func(*testServer)

// withHostKeys replaces the default ed25519 host key.
func withHostKeys(signers ...ssh.Signer) testServerOption {
	return func(s *testServer) {
		s.config = newServerConfig(s)
		for _, signer := range signers {
			s.config.AddHostKey(signer)
		}
	}
}

// withAuthorizedKey replaces the client key that the server accepts.
func withAuthorizedKey(key ssh.PublicKey) testServerOption {
	return func(s *testServer) {
		s.config.PublicKeyCallback = func(_ ssh.ConnMetadata, offered ssh.PublicKey) (*ssh.Permissions, error) {
			s.authAttempts.Add(1)
			if string(offered.Marshal()) == string(key.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		}
	}
}

// withHandshakeDelay holds back every handshake, to make concurrent dials overlap.
func withHandshakeDelay(delay time.Duration) testServerOption {
	return func(s *testServer) {
		s.handshakeDelay = delay
	}
}

func withListener(listener net.Listener) testServerOption {
	return func(s *testServer) {
		s.listener.Close()
		s.listener = listener
	}
}

func newTestServer(t *testing.T, options ...testServerOption) *testServer {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	server := &testServer{
		t:        t,
		listener: listener,
		serve:    echoServe,
		machine:  "x86_64",
		conns:    make(map[net.Conn]bool),
	}
	server.config = newServerConfig(server)
	server.config.AddHostKey(testEd25519HostKey())
	withAuthorizedKey(testClientKey().PublicKey())(server)
	for _, option := range options {
		option(server)
	}
	server.wg.Add(1)
	go server.acceptLoop()
	t.Cleanup(server.close)
	return server
}

func newServerConfig(server *testServer) *ssh.ServerConfig {
	config := &ssh.ServerConfig{}
	if server.config != nil {
		config.PublicKeyCallback = server.config.PublicKeyCallback
	}
	return config
}

func (s *testServer) port() int {
	return s.listener.Addr().(*net.TCPAddr).Port
}

// target returns a Target for the server whose StateDir lies in a fresh temporary folder.
func (s *testServer) target(hostKey string) Target {
	return Target{
		Host:     "127.0.0.1",
		Port:     s.port(),
		User:     "root",
		HostKey:  hostKey,
		StateDir: s.t.TempDir() + "/state",
		LXCPath:  "/var/lib/lxc",
	}
}

func (s *testServer) setServe(serve serveFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serve = serve
}

func (s *testServer) setMachine(machine string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.machine = machine
}

func (s *testServer) lastCommand() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.commands) == 0 {
		return ""
	}
	return s.commands[len(s.commands)-1]
}

// activeConnections counts the TCP connections that the server has not seen closed.
func (s *testServer) activeConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// dropConnections closes every connection from the server's side, as a restarting sshd does.
func (s *testServer) dropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for conn := range s.conns {
		conn.Close()
	}
}

func (s *testServer) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.listener.Close()
	s.dropConnections()
	s.wg.Wait()
}

func (s *testServer) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = true
		s.mu.Unlock()
		s.connections.Add(1)
		s.wg.Add(1)
		go s.handleConn(conn)
	}
}

func (s *testServer) handleConn(conn net.Conn) {
	defer s.wg.Done()
	defer func() {
		conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()
	time.Sleep(s.handshakeDelay)
	serverConn, channels, requests, err := ssh.NewServerConn(conn, s.config)
	if err != nil {
		return
	}
	s.hostKeyAlgo.Store(serverConn.Conn.(ssh.AlgorithmsConnMetadata).Algorithms().HostKey)
	go ssh.DiscardRequests(requests)
	for newChannel := range channels {
		if newChannel.ChannelType() != "session" {
			newChannel.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		if s.dropNextSession.CompareAndSwap(true, false) {
			conn.Close()
			continue
		}
		if s.rejectSessions.Add(-1) >= 0 {
			newChannel.Reject(ssh.ConnectionFailed, "open failed")
			continue
		}
		channel, channelRequests, err := newChannel.Accept()
		if err != nil {
			continue
		}
		s.wg.Add(1)
		go s.handleSession(channel, channelRequests)
	}
}

// negotiatedHostKeyAlgorithm returns the host key algorithm of the last handshake. The client
// can finish its side of the handshake before the server records it, so it waits briefly.
func (s *testServer) negotiatedHostKeyAlgorithm() string {
	deadline := time.Now().Add(2 * time.Second)
	for {
		algorithm, _ := s.hostKeyAlgo.Load().(string)
		if algorithm != "" || time.Now().After(deadline) {
			return algorithm
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *testServer) handleSession(channel ssh.Channel, requests <-chan *ssh.Request) {
	defer s.wg.Done()
	open := s.openSessions.Add(1)
	for {
		current := s.maxSessions.Load()
		if open <= current || s.maxSessions.CompareAndSwap(current, open) {
			break
		}
	}
	// The count drops before the channel closes, so it never exceeds what the client holds.
	defer channel.Close()
	defer s.openSessions.Add(-1)

	for request := range requests {
		switch request.Type {
		case "exec":
			var payload struct{ Command string }
			if err := ssh.Unmarshal(request.Payload, &payload); err != nil {
				request.Reply(false, nil)
				continue
			}
			request.Reply(true, nil)
			go ssh.DiscardRequests(requests)
			status := s.exec(channel, payload.Command)
			channel.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
			return
		case "subsystem":
			var payload struct{ Name string }
			if err := ssh.Unmarshal(request.Payload, &payload); err != nil || payload.Name != "sftp" {
				request.Reply(false, nil)
				continue
			}
			request.Reply(true, nil)
			go ssh.DiscardRequests(requests)
			server, err := sftp.NewServer(channel)
			if err != nil {
				return
			}
			server.Serve()
			return
		default:
			if request.WantReply {
				request.Reply(false, nil)
			}
		}
	}
}

// exec runs command the way the device's shell would for the commands the provider sends.
func (s *testServer) exec(channel ssh.Channel, command string) int {
	s.mu.Lock()
	s.commands = append(s.commands, command)
	serve, machine := s.serve, s.machine
	s.mu.Unlock()

	if command == "uname -m" {
		fmt.Fprintln(channel, machine)
		return 0
	}
	quoted, ok := strings.CutSuffix(command, " serve")
	helperPath, unquoted := shellUnquote(quoted)
	if !ok || !unquoted {
		fmt.Fprintf(channel.Stderr(), "sh: 1: %s: not found\n", command)
		return exitCommandNotFound
	}
	if _, err := os.Stat(helperPath); err != nil {
		fmt.Fprintf(channel.Stderr(), "sh: 1: %s: not found\n", helperPath)
		return exitCommandNotFound
	}

	body, err := io.ReadAll(channel)
	if err != nil {
		return 1
	}
	var request protocol.Request
	if err := json.Unmarshal(body, &request); err != nil {
		fmt.Fprintf(channel.Stderr(), "decode request: %v\n", err)
		return 2
	}
	stdout, stderr, status := serve(request)
	channel.Write(stdout)
	io.WriteString(channel.Stderr(), stderr)
	return status
}

// shellUnquote reverses shellQuote and reports whether quoted was one single-quoted word.
func shellUnquote(quoted string) (string, bool) {
	if len(quoted) < 2 || quoted[0] != '\'' || quoted[len(quoted)-1] != '\'' {
		return "", false
	}
	inner := quoted[1 : len(quoted)-1]
	unquoted := strings.ReplaceAll(inner, `'\''`, "'")
	if strings.Contains(strings.ReplaceAll(inner, `'\''`, ""), "'") {
		return "", false
	}
	return unquoted, true
}

// echoServe answers every call with its own parameters as data.
func echoServe(request protocol.Request) ([]byte, string, int) {
	response := protocol.Response{Version: protocol.Version, HelperVersion: "test"}
	for _, call := range request.Calls {
		response.Results = append(response.Results, protocol.Result{ID: call.ID, Data: call.Params})
	}
	body, _ := json.Marshal(response)
	return body, "", 0
}

var (
	testClientKey = sync.OnceValue(func() ssh.Signer {
		signer, err := ssh.NewSignerFromKey(testClientKeyPrivate())
		if err != nil {
			panic(err)
		}
		return signer
	})
	testEd25519HostKey = sync.OnceValue(func() ssh.Signer {
		return newEd25519Signer()
	})
	testRSAHostKey = sync.OnceValue(func() ssh.Signer {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		signer, err := ssh.NewSignerFromKey(key)
		if err != nil {
			panic(err)
		}
		return signer
	})
	testClientKeyPEM = sync.OnceValue(func() []byte {
		return marshalTestKey(testClientKeyPrivate(), nil)
	})
	testClientKeyPrivate = sync.OnceValue(func() ed25519.PrivateKey {
		_, private, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return private
	})
)

func newEd25519Signer() ssh.Signer {
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	signer, err := ssh.NewSignerFromKey(private)
	if err != nil {
		panic(err)
	}
	return signer
}

// marshalTestKey encodes key in OpenSSH PEM form, encrypted when passphrase is set.
func marshalTestKey(key ed25519.PrivateKey, passphrase []byte) []byte {
	var block *pem.Block
	var err error
	if passphrase != nil {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(key, "", passphrase)
	} else {
		block, err = ssh.MarshalPrivateKey(key, "")
	}
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(block)
}

// testCredentials returns credentials with the test client key and short timeouts.
func testCredentials() Credentials {
	return Credentials{PrivateKey: testClientKeyPEM(), ConnectTimeout: 5 * time.Second}
}

// recordingLogger keeps the messages it receives.
type recordingLogger struct {
	mu      sync.Mutex
	entries []logEntry
}

type logEntry struct {
	message string
	fields  map[string]any
}

func (l *recordingLogger) Debug(_ context.Context, message string, fields map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, logEntry{message: message, fields: fields})
}

func (l *recordingLogger) count(message string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, entry := range l.entries {
		if entry.message == message {
			n++
		}
	}
	return n
}

func (l *recordingLogger) find(message string) (logEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, entry := range l.entries {
		if entry.message == message {
			return entry, true
		}
	}
	return logEntry{}, false
}
