package device

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// hashKnownHost returns host in the hashed known_hosts form that OpenSSH writes with
// HashKnownHosts: |1|base64(salt)|base64(HMAC-SHA1(salt, host)).
func hashKnownHost(host string) string {
	salt := []byte("0123456789abcdefghij")
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(host))
	return "|1|" + base64.StdEncoding.EncodeToString(salt) + "|" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func writeKnownHosts(t *testing.T, lines ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "known_hosts")
	content := "# test known_hosts\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatalf("write known_hosts: %v", err)
	}
	return file
}

func TestNormalizeHostKey(t *testing.T) {
	key := testEd25519HostKey().PublicKey()
	want := authorizedKey(key)
	blob := base64.StdEncoding.EncodeToString(key.Marshal())
	tests := []struct {
		name    string
		text    string
		wantErr string
	}{
		{name: "authorized_keys form", text: want},
		{name: "with comment", text: want + " root@device"},
		{name: "surrounding space", text: "  " + want + "\n"},
		{name: "keyscan form", text: "device.example " + want},
		{name: "keyscan form with port", text: "[10.0.0.5]:2222 " + want},
		{name: "keyscan form IPv6", text: "[2001:db8::10]:22 " + want},
		{name: "empty", text: "  ", wantErr: "empty"},
		{name: "type only", text: "ssh-ed25519", wantErr: "expected authorized_keys form"},
		{name: "invalid base64", text: "ssh-ed25519 AAAA%%%", wantErr: "expected authorized_keys form"},
		{name: "truncated key", text: "ssh-ed25519 " + blob[:20], wantErr: "expected authorized_keys form"},
		{name: "wrong type label", text: "ssh-rsa " + blob, wantErr: "labelled ssh-rsa"},
		{name: "two lines", text: want + "\n" + want, wantErr: "one key on one line"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := NormalizeHostKey(test.text)
			if test.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), test.wantErr) {
					t.Fatalf("NormalizeHostKey() error = %v, want one containing %q", err, test.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeHostKey() error = %v", err)
			}
			if got != want {
				t.Errorf("NormalizeHostKey() = %q, want %q", got, want)
			}
		})
	}
}

// TestHostKeyVerification connects to a server with an ed25519 host key.
func TestHostKeyVerification(t *testing.T) {
	server := newTestServer(t)
	hostKey := testEd25519HostKey().PublicKey()
	otherKey := newEd25519Signer().PublicKey()
	hostPort := fmt.Sprintf("[127.0.0.1]:%d", server.port())

	const (
		trusted = iota
		unknown
		changed
	)
	tests := []struct {
		name       string
		pin        string
		knownHosts []string
		want       int
		wantSource string
	}{
		{name: "pinned", pin: authorizedKey(hostKey) + " root@device", want: trusted},
		{name: "pinned keyscan form", pin: hostPort + " " + authorizedKey(hostKey), want: trusted},
		{name: "pinned mismatch", pin: authorizedKey(otherKey), want: changed, wantSource: "host_key"},
		{name: "known_hosts port entry", knownHosts: []string{hostPort + " " + authorizedKey(hostKey)}, want: trusted},
		{name: "known_hosts hashed", knownHosts: []string{hashKnownHost(hostPort) + " " + authorizedKey(hostKey)}, want: trusted},
		{name: "known_hosts several hosts", knownHosts: []string{"other," + hostPort + " " + authorizedKey(hostKey)}, want: trusted},
		{name: "known_hosts other port", knownHosts: []string{"[127.0.0.1]:1 " + authorizedKey(hostKey)}, want: unknown, wantSource: "known_hosts_file"},
		{name: "known_hosts port 22 entry", knownHosts: []string{"127.0.0.1 " + authorizedKey(hostKey)}, want: unknown, wantSource: "known_hosts_file"},
		{name: "known_hosts changed", knownHosts: []string{hostPort + " " + authorizedKey(otherKey)}, want: changed, wantSource: "known_hosts_file"},
		{name: "known_hosts hashed changed", knownHosts: []string{hashKnownHost(hostPort) + " " + authorizedKey(otherKey)}, want: changed, wantSource: "known_hosts_file"},
		{name: "nothing configured", want: unknown},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			creds := testCredentials()
			if test.knownHosts != nil {
				creds.KnownHostsFile = writeKnownHosts(t, test.knownHosts...)
			}
			pool := NewPool(creds, 0)
			defer pool.Close()
			authBefore := server.authAttempts.Load()

			client, err := pool.Get(context.Background(), server.target(test.pin))
			if test.want == trusted {
				if err != nil {
					t.Fatalf("Get() error = %v", err)
				}
				if got := client.HostKey(); got != authorizedKey(hostKey) {
					t.Errorf("HostKey() = %q, want %q", got, authorizedKey(hostKey))
				}
				return
			}

			var keyErr *HostKeyError
			if !errors.As(err, &keyErr) {
				t.Fatalf("Get() error = %v, want a *HostKeyError", err)
			}
			assertOfferedKey(t, keyErr, hostKey)
			if keyErr.Changed != (test.want == changed) {
				t.Errorf("Changed = %v, want %v", keyErr.Changed, test.want == changed)
			}
			if !strings.HasPrefix(keyErr.Source, test.wantSource) {
				t.Errorf("Source = %q, want prefix %q", keyErr.Source, test.wantSource)
			}
			if test.want == changed && !strings.Contains(err.Error(), "intercepting") {
				t.Errorf("error %q does not warn about interception", err)
			}
			if test.wantSource == "" && !strings.Contains(err.Error(), "known_hosts_file") {
				t.Errorf("error %q does not name known_hosts_file", err)
			}
			if got := server.authAttempts.Load() - authBefore; got != 0 {
				t.Errorf("client tried %d keys on an untrusted server, want 0", got)
			}
		})
	}
}

func assertOfferedKey(t *testing.T, keyErr *HostKeyError, offered ssh.PublicKey) {
	t.Helper()
	if keyErr.KeyType != offered.Type() {
		t.Errorf("KeyType = %q, want %q", keyErr.KeyType, offered.Type())
	}
	if want := ssh.FingerprintSHA256(offered); keyErr.Fingerprint != want {
		t.Errorf("Fingerprint = %q, want %q", keyErr.Fingerprint, want)
	}
	if want := authorizedKey(offered); keyErr.AuthorizedKey != want {
		t.Errorf("AuthorizedKey = %q, want %q", keyErr.AuthorizedKey, want)
	}
	if pin := fmt.Sprintf("host_key = %q", authorizedKey(offered)); !strings.Contains(keyErr.Error(), pin) {
		t.Errorf("error %q does not show how to pin the key (%s)", keyErr.Error(), pin)
	}
	if !strings.Contains(keyErr.Error(), ssh.FingerprintSHA256(offered)) {
		t.Errorf("error %q does not show the fingerprint", keyErr.Error())
	}
}

// TestKnownHostsIPv6 checks known_hosts matching for IPv6 targets without connecting.
func TestKnownHostsIPv6(t *testing.T) {
	key := testEd25519HostKey().PublicKey()
	line := func(host string) string { return host + " " + authorizedKey(key) }
	tests := []struct {
		name    string
		entry   string
		port    int
		trusted bool
	}{
		{name: "port 22 plain", entry: line("2001:db8::10"), port: 22, trusted: true},
		{name: "port 22 bracketed", entry: line("[2001:db8::10]:22"), port: 22, trusted: true},
		{name: "port 22 hashed", entry: line(hashKnownHost("2001:db8::10")), port: 22, trusted: true},
		{name: "other port", entry: line("[2001:db8::10]:2222"), port: 2222, trusted: true},
		{name: "other port hashed", entry: line(hashKnownHost("[2001:db8::10]:2222")), port: 2222, trusted: true},
		{name: "plain entry other port", entry: line("2001:db8::10"), port: 2222, trusted: false},
		{name: "port entry port 22", entry: line("[2001:db8::10]:2222"), port: 22, trusted: false},
		{name: "other address", entry: line("2001:db8::11"), port: 22, trusted: false},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			file := writeKnownHosts(t, test.entry)
			target := Target{Host: "2001:db8::10", Port: test.port}
			verifier, err := newHostKeyVerifier(target, file)
			if err != nil {
				t.Fatalf("newHostKeyVerifier() error = %v", err)
			}
			remote := &net.TCPAddr{IP: net.ParseIP("2001:db8::10"), Port: test.port}
			err = verifier.check(target.Address(), remote, key)
			if test.trusted {
				if err != nil {
					t.Errorf("check() error = %v", err)
				}
				if !slices.Equal(verifier.algorithms, []string{ssh.KeyAlgoED25519}) {
					t.Errorf("algorithms = %q, want only %s", verifier.algorithms, ssh.KeyAlgoED25519)
				}
				return
			}
			var keyErr *HostKeyError
			if !errors.As(err, &keyErr) || keyErr.Changed {
				t.Errorf("check() error = %v, want an unknown-key *HostKeyError", err)
			}
			if verifier.algorithms != nil {
				t.Errorf("algorithms = %q, want nil for an unknown host", verifier.algorithms)
			}
		})
	}
}

// TestKnownHostsIPv6Loopback connects to [::1] to cover address formatting end to end.
func TestKnownHostsIPv6Loopback(t *testing.T) {
	listener, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("IPv6 loopback unavailable: %v", err)
	}
	server := newTestServer(t, withListener(listener))
	target := server.target("")
	target.Host = "::1"
	creds := testCredentials()
	entry := fmt.Sprintf("[::1]:%d %s", server.port(), authorizedKey(testEd25519HostKey().PublicKey()))
	creds.KnownHostsFile = writeKnownHosts(t, entry)
	pool := NewPool(creds, 0)
	defer pool.Close()

	client, err := pool.Get(context.Background(), target)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if _, err := client.Machine(context.Background()); err != nil {
		t.Errorf("Machine() error = %v", err)
	}
}

// TestRSAHostKeySHA2 checks that an ssh-rsa pin works with a server that signs only with
// rsa-sha2-256 or rsa-sha2-512, as OpenSSH 8.8 and later do.
func TestRSAHostKeySHA2(t *testing.T) {
	rsaKey := testRSAHostKey()
	for _, algorithm := range []string{ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512} {
		t.Run(algorithm, func(t *testing.T) {
			signer, err := ssh.NewSignerWithAlgorithms(rsaKey.(ssh.AlgorithmSigner), []string{algorithm})
			if err != nil {
				t.Fatalf("NewSignerWithAlgorithms() error = %v", err)
			}
			server := newTestServer(t, withHostKeys(signer))
			pool := NewPool(testCredentials(), 0)
			defer pool.Close()

			client, err := pool.Get(context.Background(), server.target(authorizedKey(rsaKey.PublicKey())))
			if err != nil {
				t.Fatalf("Get() error = %v", err)
			}
			if got := server.negotiatedHostKeyAlgorithm(); got != algorithm {
				t.Errorf("negotiated host key algorithm %q, want %q", got, algorithm)
			}
			if got := client.HostKey(); got != authorizedKey(rsaKey.PublicKey()) {
				t.Errorf("HostKey() = %q, want the RSA key", got)
			}
		})
	}
}

// TestHostKeyTypeNotListed covers servers whose key types differ from the trusted ones.
func TestHostKeyTypeNotListed(t *testing.T) {
	rsaKey := testRSAHostKey().PublicKey()
	ed25519Key := testEd25519HostKey().PublicKey()

	t.Run("known_hosts lists another type", func(t *testing.T) {
		server := newTestServer(t)
		creds := testCredentials()
		creds.KnownHostsFile = writeKnownHosts(t, fmt.Sprintf("[127.0.0.1]:%d %s", server.port(), authorizedKey(rsaKey)))
		pool := NewPool(creds, 0)
		defer pool.Close()

		_, err := pool.Get(context.Background(), server.target(""))
		var keyErr *HostKeyError
		if !errors.As(err, &keyErr) {
			t.Fatalf("Get() error = %v, want a *HostKeyError", err)
		}
		assertOfferedKey(t, keyErr, ed25519Key)
		if keyErr.Changed {
			t.Errorf("Changed = true, want false for a key type the file does not list")
		}
		want := []string{"ssh-rsa " + ssh.FingerprintSHA256(rsaKey)}
		if !slices.Equal(keyErr.Expected, want) {
			t.Errorf("Expected = %q, want %q", keyErr.Expected, want)
		}
		if !strings.Contains(err.Error(), "lists only ssh-rsa") {
			t.Errorf("error %q does not say which types are listed", err)
		}
	})

	t.Run("server has the listed type too", func(t *testing.T) {
		server := newTestServer(t, withHostKeys(testEd25519HostKey(), testRSAHostKey()))
		creds := testCredentials()
		creds.KnownHostsFile = writeKnownHosts(t, fmt.Sprintf("[127.0.0.1]:%d %s", server.port(), authorizedKey(rsaKey)))
		pool := NewPool(creds, 0)
		defer pool.Close()

		client, err := pool.Get(context.Background(), server.target(""))
		if err != nil {
			t.Fatalf("Get() error = %v", err)
		}
		if got := server.negotiatedHostKeyAlgorithm(); got != ssh.KeyAlgoRSASHA512 {
			t.Errorf("negotiated host key algorithm %q, want %q", got, ssh.KeyAlgoRSASHA512)
		}
		if got := client.HostKey(); got != authorizedKey(rsaKey) {
			t.Errorf("HostKey() = %q, want the RSA key", got)
		}
	})

	t.Run("pinned type missing on server", func(t *testing.T) {
		server := newTestServer(t)
		pool := NewPool(testCredentials(), 0)
		defer pool.Close()

		_, err := pool.Get(context.Background(), server.target(authorizedKey(rsaKey)))
		var keyErr *HostKeyError
		if !errors.As(err, &keyErr) {
			t.Fatalf("Get() error = %v, want a *HostKeyError", err)
		}
		assertOfferedKey(t, keyErr, ed25519Key)
		if !keyErr.Changed {
			t.Errorf("Changed = false, want true for a key that differs from the pin")
		}
	})
}

func TestKnownHostsFileErrors(t *testing.T) {
	server := newTestServer(t)
	creds := testCredentials()
	creds.KnownHostsFile = filepath.Join(t.TempDir(), "missing")
	pool := NewPool(creds, 0)
	defer pool.Close()

	_, err := pool.Get(context.Background(), server.target(""))
	if err == nil || !strings.Contains(err.Error(), "read known_hosts_file") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Get() error = %v, want a read known_hosts_file error matching os.ErrNotExist", err)
	}
	if got := server.connections.Load(); got != 0 {
		t.Errorf("server saw %d connections, want 0", got)
	}
}

func TestKnownHostsCertificateAuthority(t *testing.T) {
	authority := newEd25519Signer()
	hostSigner := testEd25519HostKey()
	certificate := &ssh.Certificate{
		Key:             hostSigner.PublicKey(),
		CertType:        ssh.HostCert,
		ValidPrincipals: []string{"127.0.0.1"},
		ValidBefore:     ssh.CertTimeInfinity,
	}
	if err := certificate.SignCert(rand.Reader, authority); err != nil {
		t.Fatalf("sign host certificate: %v", err)
	}
	certSigner, err := ssh.NewCertSigner(certificate, hostSigner)
	if err != nil {
		t.Fatalf("NewCertSigner() error = %v", err)
	}
	server := newTestServer(t, withHostKeys(certSigner))
	creds := testCredentials()
	entry := fmt.Sprintf("@cert-authority [127.0.0.1]:%d %s", server.port(), authorizedKey(authority.PublicKey()))
	creds.KnownHostsFile = writeKnownHosts(t, entry)
	pool := NewPool(creds, 0)
	defer pool.Close()

	client, err := pool.Get(context.Background(), server.target(""))
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if got, want := client.HostKey(), authorizedKey(hostSigner.PublicKey()); got != want {
		t.Errorf("HostKey() = %q, want the certificate's plain key %q", got, want)
	}
}

func TestKnownHostsAuthorityIsNoHostKey(t *testing.T) {
	// The authority's key type matches the server's plain key, which it has not signed.
	authority := newEd25519Signer()
	server := newTestServer(t)
	creds := testCredentials()
	entry := fmt.Sprintf("@cert-authority [127.0.0.1]:%d %s", server.port(), authorizedKey(authority.PublicKey()))
	creds.KnownHostsFile = writeKnownHosts(t, entry)
	pool := NewPool(creds, 0)
	defer pool.Close()

	_, err := pool.Get(context.Background(), server.target(""))
	var keyErr *HostKeyError
	if !errors.As(err, &keyErr) {
		t.Fatalf("Get() error = %v, want a *HostKeyError", err)
	}
	assertOfferedKey(t, keyErr, testEd25519HostKey().PublicKey())
	if keyErr.Changed {
		t.Errorf("Changed = true, want false: an authority key is not a host key")
	}
	if len(keyErr.Expected) != 0 {
		t.Errorf("Expected = %q, want none", keyErr.Expected)
	}
}
