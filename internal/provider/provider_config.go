package provider

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
)

// credentialsFrom resolves the provider configuration, with its environment fallbacks, into
// device credentials and the default login user.
func credentialsFrom(config providerModel) (device.Credentials, string, error) {
	var creds device.Credentials

	key := stringOrEnv(config.PrivateKey, envPrivateKey, "")
	keyFile := stringOrEnv(config.PrivateKeyFile, envPrivateKeyFile, "")
	if key != "" && keyFile != "" {
		return creds, "", fmt.Errorf("both a private key and a private key file are set (from configuration or %s and %s); keep one of them", envPrivateKey, envPrivateKeyFile)
	}
	if keyFile != "" {
		data, err := os.ReadFile(keyFile)
		if err != nil {
			return creds, "", fmt.Errorf("read private_key_file %q: %w", keyFile, err)
		}
		key = string(data)
	}
	creds.PrivateKey = []byte(key)
	creds.PrivateKeyPassphrase = []byte(stringOrEnv(config.PrivateKeyPassphrase, envPrivateKeyPassphrase, ""))
	if err := checkPrivateKey(creds.PrivateKey, creds.PrivateKeyPassphrase); err != nil {
		if keyFile != "" {
			return creds, "", fmt.Errorf("private_key_file %q: %w", keyFile, err)
		}
		return creds, "", err
	}

	creds.AgentSocket = stringOrEnv(config.AgentSocket, envAgentSocket, "")
	if len(creds.PrivateKey) == 0 && creds.AgentSocket == "" {
		return creds, "", fmt.Errorf("no SSH credentials: set private_key or private_key_file (or %s or %s), or run an SSH agent and set %s", envPrivateKey, envPrivateKeyFile, envAgentSocket)
	}

	creds.KnownHostsFile = stringOrEnv(config.KnownHostsFile, envKnownHostsFile, defaultKnownHostsFile())

	timeout := stringOrEnv(config.ConnectTimeout, envConnectTimeout, defaultConnectTimeout.String())
	d, err := time.ParseDuration(timeout)
	if err != nil || d <= 0 {
		return creds, "", fmt.Errorf("invalid connect_timeout %q: use a positive Go duration such as \"30s\" or \"2m\"", timeout)
	}
	creds.ConnectTimeout = d

	creds.MaxSessions = defaultMaxSessions
	if !config.MaxSessions.IsNull() && !config.MaxSessions.IsUnknown() {
		creds.MaxSessions = int(config.MaxSessions.ValueInt64())
	}

	user := stringOrEnv(config.User, envUser, device.DefaultUser)
	if err := validateUser(user); err != nil {
		return creds, "", err
	}
	return creds, user, nil
}

// checkPrivateKey parses the key so that a malformed key or a missing passphrase is reported
// once, at configuration, instead of on every device.
func checkPrivateKey(key, passphrase []byte) error {
	if len(key) == 0 {
		return nil
	}
	_, err := ssh.ParsePrivateKey(key)
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &missing) && len(passphrase) == 0:
		return fmt.Errorf("the SSH private key is encrypted: set private_key_passphrase (or %s)", envPrivateKeyPassphrase)
	case errors.As(err, &missing):
		if _, err := ssh.ParsePrivateKeyWithPassphrase(key, passphrase); err != nil {
			return fmt.Errorf("decrypt the SSH private key: %w; check private_key_passphrase", err)
		}
		return nil
	default:
		return fmt.Errorf("parse the SSH private key: %w; it must be a PEM or OpenSSH private key (the file that ssh-keygen writes without .pub)", err)
	}
}
