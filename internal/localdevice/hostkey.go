//go:build linux

package localdevice

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// ReplaceHostKey installs privateKeyPEM (an OpenSSH or PEM private key) as the device's host
// key and makes sshd load it, as an operator rotating the key would. It returns once a client
// that pins the new key can log in.
func (d *Device) ReplaceHostKey(ctx context.Context, privateKeyPEM []byte) error {
	signer, err := ssh.ParsePrivateKey(privateKeyPEM)
	if err != nil {
		return fmt.Errorf("replace host key: parse private key: %w", err)
	}
	pid := d.liveSSHD()
	if pid == 0 {
		return fmt.Errorf("replace host key: sshd of device %q is not running", d.Name)
	}

	if err := os.WriteFile(d.hostKeyPath(), privateKeyPEM, 0o600); err != nil {
		return fmt.Errorf("replace host key: %w", err)
	}
	d.HostPublicKey = authorizedKeyLine(signer.PublicKey())
	if err := os.WriteFile(d.hostKeyPath()+".pub", []byte(d.HostPublicKey+"\n"), 0o644); err != nil {
		return fmt.Errorf("replace host key: %w", err)
	}
	if err := d.writeState(); err != nil {
		return fmt.Errorf("replace host key: %w", err)
	}

	// On SIGHUP sshd executes itself again with the same PID and reads its host keys anew.
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("replace host key: signal sshd (PID %d): %w", pid, err)
	}
	return d.waitForHostKey(ctx, signer.PublicKey())
}

// waitForHostKey polls until sshd completes a login while offering key.
func (d *Device) waitForHostKey(ctx context.Context, key ssh.PublicKey) error {
	clientKey, err := os.ReadFile(d.ClientKeyPath)
	if err != nil {
		return fmt.Errorf("wait for new host key: %w", err)
	}
	clientSigner, err := ssh.ParsePrivateKey(clientKey)
	if err != nil {
		return fmt.Errorf("wait for new host key: parse client key: %w", err)
	}
	config := &ssh.ClientConfig{
		User:              d.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(clientSigner)},
		HostKeyCallback:   ssh.FixedHostKey(key),
		HostKeyAlgorithms: []string{key.Type()},
		Timeout:           2 * time.Second,
	}
	address := net.JoinHostPort(d.Address(), strconv.Itoa(d.Port))

	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		client, err := ssh.Dial("tcp", address, config)
		if err == nil {
			return client.Close()
		}
		if sleepErr := sleepContext(ctx, 20*time.Millisecond); sleepErr != nil {
			return fmt.Errorf("wait for sshd on %s to offer the new host key: %w (last error: %v); sshd.log: %s",
				address, sleepErr, err, d.logTail())
		}
	}
}
