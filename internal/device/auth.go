package device

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// authenticator builds the public key auth method from Credentials. It parses the private key
// once per pool, because decrypting an OpenSSH key runs bcrypt and can take a second.
type authenticator struct {
	creds Credentials

	once   sync.Once
	signer ssh.Signer
	err    error
}

// privateKeySigner returns the signer for Credentials.PrivateKey, or nil when none is set.
// Its errors do not quote the key or the passphrase.
func (a *authenticator) privateKeySigner() (ssh.Signer, error) {
	a.once.Do(func() {
		if len(a.creds.PrivateKey) == 0 {
			return
		}
		if len(a.creds.PrivateKeyPassphrase) > 0 {
			a.signer, a.err = ssh.ParsePrivateKeyWithPassphrase(a.creds.PrivateKey, a.creds.PrivateKeyPassphrase)
		} else {
			a.signer, a.err = ssh.ParsePrivateKey(a.creds.PrivateKey)
		}
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(a.err, &missing):
			a.err = errors.New("parse private_key: the key is encrypted, set private_key_passphrase")
		case a.err != nil:
			a.err = fmt.Errorf("parse private_key: %w", a.err)
		}
	})
	return a.signer, a.err
}

// authMethods returns the auth method for one connection attempt and a function that closes
// the agent connection it opened. The private key is offered before the agent's keys, in one
// method, because x/crypto/ssh tries each method name only once.
func (a *authenticator) authMethods(
	ctx context.Context, logger Logger, fields map[string]any,
) ([]ssh.AuthMethod, func(), error) {
	signer, err := a.privateKeySigner()
	if err != nil {
		return nil, nil, err
	}
	var signers []ssh.Signer
	if signer != nil {
		signers = append(signers, signer)
	}

	noop := func() {}
	if a.creds.AgentSocket == "" {
		if signer == nil {
			return nil, nil, errors.New("no SSH credentials: set private_key or agent_socket on the provider")
		}
		return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, noop, nil
	}

	// NOTE: Windows' own OpenSSH agent listens on a named pipe, which this does not dial, so
	// on Windows only agents that offer a Unix socket work.
	var dialer net.Dialer
	agentConn, err := dialer.DialContext(ctx, "unix", a.creds.AgentSocket)
	if err != nil {
		if signer == nil {
			return nil, nil, fmt.Errorf("connect to SSH agent at %q: %w; start the agent or fix agent_socket",
				a.creds.AgentSocket, err)
		}
		// The private key alone may be enough, so a missing agent is only logged.
		fields = withField(fields, "error", err.Error())
		logger.Debug(ctx, "SSH agent unreachable, offering only the private key", fields)
		return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, noop, nil
	}

	agentClient := agent.NewClient(agentConn)
	method := ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		agentSigners, err := agentClient.Signers()
		if err != nil {
			return nil, fmt.Errorf("list keys of SSH agent at %q: %w", a.creds.AgentSocket, err)
		}
		return append(signers[:len(signers):len(signers)], agentSigners...), nil
	})
	return []ssh.AuthMethod{method}, func() { agentConn.Close() }, nil
}
