package device

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError reports that a device offered a host key that the provider does not trust.
type HostKeyError struct {
	// Address is the device's host:port.
	Address string

	// KeyType is the type of the offered key, such as "ssh-ed25519".
	KeyType string

	// Fingerprint is the offered key's SHA-256 fingerprint ("SHA256:...").
	Fingerprint string

	// AuthorizedKey is the offered key in authorized_keys form, without a comment.
	AuthorizedKey string

	// Changed reports that the offered key differs from the pinned key, or from a key of
	// the same type that the known_hosts file lists for the device. It is false when no
	// key of the offered type is known.
	Changed bool

	// Expected lists the trusted keys as "type fingerprint", empty when none is known.
	Expected []string

	// Source names where the trusted keys come from: `host_key`, `known_hosts_file "PATH"`,
	// or empty when neither is set.
	Source string
}

func (e *HostKeyError) Error() string {
	offered := e.KeyType + " " + e.Fingerprint
	verify := fmt.Sprintf("compare the offered fingerprint with the output of `ssh-keygen -lf %s` on the device",
		hostKeyFile(e.KeyType))
	pin := fmt.Sprintf("host_key = %q", e.AuthorizedKey)
	if e.Changed {
		return fmt.Sprintf("host key of device %s changed: the device offered %s but %s expects %s. "+
			"Someone may be intercepting the connection, so %s. If the key was rotated on purpose, set %s",
			e.Address, offered, e.Source, strings.Join(e.Expected, " or "), verify, pin)
	}
	switch {
	case e.Source == "":
		return fmt.Sprintf("host key of device %s is unknown because neither host_key nor known_hosts_file "+
			"is set: the device offered %s. To trust the key, %s, then set %s, "+
			"or set known_hosts_file to a file that lists the device",
			e.Address, offered, verify, pin)
	case len(e.Expected) == 0:
		return fmt.Sprintf("host key of device %s is unknown: the device offered %s and %s lists no key for it. "+
			"To trust the key, %s, then set %s or add the key to the known_hosts file",
			e.Address, offered, e.Source, verify, pin)
	default:
		return fmt.Sprintf("host key of device %s is unknown: the device offered %s but %s lists only %s for it. "+
			"To trust the key, %s, then set %s or add the key to the known_hosts file",
			e.Address, offered, e.Source, strings.Join(e.Expected, " and "), verify, pin)
	}
}

// hostKeyFile returns where OpenSSH's default configuration keeps the public host key of
// the given type.
func hostKeyFile(keyType string) string {
	name := "*"
	switch {
	case keyType == ssh.KeyAlgoED25519:
		name = "ed25519"
	case keyType == ssh.KeyAlgoRSA:
		name = "rsa"
	case strings.HasPrefix(keyType, "ecdsa-"):
		name = "ecdsa"
	}
	return "/etc/ssh/ssh_host_" + name + "_key.pub"
}

// NormalizeHostKey parses a pinned host key in authorized_keys form ("ssh-ed25519 AAAA...
// comment") or ssh-keyscan form ("host ssh-ed25519 AAAA...", "[host]:port ssh-ed25519 AAAA...")
// and returns it in authorized_keys form without a comment. The host field of the ssh-keyscan
// form is not checked against the target.
func NormalizeHostKey(text string) (string, error) {
	key, err := parseHostKey(text)
	if err != nil {
		return "", err
	}
	return authorizedKey(key), nil
}

func parseHostKey(text string) (ssh.PublicKey, error) {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return nil, errors.New("invalid host_key: the value is empty")
	}
	if strings.ContainsAny(strings.TrimSpace(text), "\r\n") {
		return nil, fmt.Errorf("invalid host_key %q: expected one key on one line", abbreviate(text))
	}
	for _, typeField := range []int{0, 1} {
		if len(fields) < typeField+2 {
			break
		}
		blob, err := base64.StdEncoding.DecodeString(fields[typeField+1])
		if err != nil {
			continue
		}
		key, err := ssh.ParsePublicKey(blob)
		if err != nil {
			continue
		}
		if _, isCert := key.(*ssh.Certificate); isCert {
			return nil, fmt.Errorf("invalid host_key %q: host certificates are not supported, "+
				"pin the host's plain public key", abbreviate(text))
		}
		if key.Type() != fields[typeField] {
			return nil, fmt.Errorf("invalid host_key %q: the key is of type %s but is labelled %s",
				abbreviate(text), key.Type(), fields[typeField])
		}
		return key, nil
	}
	return nil, fmt.Errorf("invalid host_key %q: expected authorized_keys form (\"ssh-ed25519 AAAA...\") "+
		"or ssh-keyscan form (\"host ssh-ed25519 AAAA...\")", abbreviate(text))
}

// abbreviate shortens a key text for error messages, which need only enough to recognize it.
func abbreviate(text string) string {
	const maxLength = 48
	text = strings.TrimSpace(text)
	if len(text) <= maxLength {
		return text
	}
	return text[:maxLength] + "..."
}

func authorizedKey(key ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

func describeKey(key ssh.PublicKey) string {
	return key.Type() + " " + ssh.FingerprintSHA256(key)
}

// hostKeyAlgorithms returns the signature algorithms that prove possession of a host key of
// the given type. A server with an ssh-rsa key may sign only with rsa-sha2-*, as OpenSSH 8.8
// and later do by default, so all three are offered for RSA.
func hostKeyAlgorithms(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// hostKeyVerifier checks the host key of one connection attempt against the pinned key or the
// known_hosts file, and records the key it accepted.
type hostKeyVerifier struct {
	address    string
	pinned     ssh.PublicKey
	knownHosts ssh.HostKeyCallback
	source     string

	// authorities marks the @cert-authority lines of the known_hosts file by line number.
	authorities map[int]bool

	// algorithms restricts the host key algorithms that the client offers. It is nil when
	// nothing is known about the host, so that the offered key can be reported.
	algorithms []string

	verified ssh.PublicKey
}

// newHostKeyVerifier prepares the host key check for target. knownHostsFile is read on every
// call, so edits to it apply to the next connection.
func newHostKeyVerifier(target Target, knownHostsFile string) (*hostKeyVerifier, error) {
	verifier := &hostKeyVerifier{address: target.Address()}
	if strings.TrimSpace(target.HostKey) != "" {
		key, err := parseHostKey(target.HostKey)
		if err != nil {
			return nil, err
		}
		verifier.pinned = key
		verifier.source = "host_key"
		verifier.algorithms = hostKeyAlgorithms(key.Type())
		return verifier, nil
	}
	if knownHostsFile == "" {
		return verifier, nil
	}
	if err := verifier.loadKnownHosts(knownHostsFile); err != nil {
		return nil, err
	}
	return verifier, nil
}

// check is the ssh.HostKeyCallback of one connection attempt.
func (v *hostKeyVerifier) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	switch {
	case v.pinned != nil:
		if bytes.Equal(key.Marshal(), v.pinned.Marshal()) {
			v.verified = key
			return nil
		}
		return v.keyError(key, true, []ssh.PublicKey{v.pinned})
	case v.knownHosts == nil:
		return v.keyError(key, false, nil)
	}

	err := v.knownHosts(hostname, remote, key)
	var keyErr *knownhosts.KeyError
	var revokedErr *knownhosts.RevokedError
	switch {
	case err == nil:
		// A host certificate signed by a @cert-authority line is reported by its plain key,
		// which is what a Target's HostKey can pin.
		if certificate, ok := key.(*ssh.Certificate); ok {
			key = certificate.Key
		}
		v.verified = key
		return nil
	case errors.As(err, &keyErr):
		return v.knownHostsKeyError(key, keyErr)
	case errors.As(err, &revokedErr):
		return fmt.Errorf("host key %s of device %s is marked @revoked in %s",
			describeKey(key), v.address, revokedErr.Revoked.String())
	default:
		return fmt.Errorf("check host key of device %s against %s: %w", v.address, v.source, err)
	}
}

func (v *hostKeyVerifier) keyError(key ssh.PublicKey, changed bool, expected []ssh.PublicKey) *HostKeyError {
	keyErr := &HostKeyError{
		Address:       v.address,
		KeyType:       key.Type(),
		Fingerprint:   ssh.FingerprintSHA256(key),
		AuthorizedKey: authorizedKey(key),
		Changed:       changed,
		Source:        v.source,
	}
	for _, want := range expected {
		keyErr.Expected = append(keyErr.Expected, describeKey(want))
	}
	return keyErr
}

// isHostKeyNegotiationError reports whether a handshake failed because the server offers none
// of the host key algorithms that the client restricted itself to.
func isHostKeyNegotiationError(err error) bool {
	var negotiationErr *ssh.AlgorithmNegotiationError
	return errors.As(err, &negotiationErr) && negotiationErr.What == "host key"
}
