package device

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh/agent"
)

func TestPoolCredentials(t *testing.T) {
	server := newTestServer(t)
	passphrase := []byte("correct horse")
	encrypted := marshalTestKey(testClientKeyPrivate(), passphrase)
	tests := []struct {
		name    string
		creds   Credentials
		wantErr string
	}{
		{name: "private key", creds: Credentials{PrivateKey: testClientKeyPEM()}},
		{name: "encrypted key", creds: Credentials{PrivateKey: encrypted, PrivateKeyPassphrase: passphrase}},
		{name: "encrypted key without passphrase", creds: Credentials{PrivateKey: encrypted}, wantErr: "set private_key_passphrase"},
		{name: "wrong passphrase", creds: Credentials{PrivateKey: encrypted, PrivateKeyPassphrase: []byte("wrong")}, wantErr: "parse private_key"},
		{name: "garbage key", creds: Credentials{PrivateKey: []byte("not a key")}, wantErr: "parse private_key"},
		{name: "nothing", creds: Credentials{}, wantErr: "set private_key or agent_socket"},
		{name: "agent", creds: Credentials{AgentSocket: startTestAgent(t, testClientKeyPrivate())}},
		{name: "agent and unrelated key", creds: Credentials{PrivateKey: marshalTestKey(newEd25519Private(), nil), AgentSocket: startTestAgent(t, testClientKeyPrivate())}},
		{name: "key and missing agent", creds: Credentials{PrivateKey: testClientKeyPEM(), AgentSocket: filepath.Join(t.TempDir(), "missing.sock")}},
		{name: "missing agent", creds: Credentials{AgentSocket: filepath.Join(t.TempDir(), "missing.sock")}, wantErr: "connect to SSH agent"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			pool := NewPool(test.creds, 0)
			defer pool.Close()
			client, err := pool.Get(context.Background(), pinnedTarget(server))
			if test.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), test.wantErr) {
					t.Fatalf("Get() error = %v, want one containing %q", err, test.wantErr)
				}
				if len(passphrase) > 0 && strings.Contains(err.Error(), string(passphrase)) {
					t.Errorf("error %q contains the passphrase", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get() error = %v", err)
			}
			if _, err := client.Machine(context.Background()); err != nil {
				t.Errorf("Machine() error = %v", err)
			}
		})
	}
}

func newEd25519Private() ed25519.PrivateKey {
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return private
}

// startTestAgent serves an SSH agent holding key on a Unix socket and returns its path.
func startTestAgent(t *testing.T, key any) string {
	t.Helper()
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
		t.Fatalf("add key to agent: %v", err)
	}
	socket := filepath.Join(t.TempDir(), "agent.sock")
	listener, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatalf("listen on agent socket: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				agent.ServeAgent(keyring, conn)
			}()
		}
	}()
	t.Cleanup(func() {
		listener.Close()
		wg.Wait()
	})
	return socket
}
