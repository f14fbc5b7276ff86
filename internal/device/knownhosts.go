package device

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// loadKnownHosts makes v check host keys against a known_hosts file, and restricts the host
// key algorithms to the types that the file lists for the device. With a @cert-authority line
// for the device, host certificates of any type are accepted as well.
func (v *hostKeyVerifier) loadKnownHosts(file string) error {
	callback, err := knownhosts.New(file)
	if err != nil {
		return fmt.Errorf("read known_hosts_file %q: %w", file, err)
	}
	authorities, err := readAuthorityLines(file)
	if err != nil {
		return fmt.Errorf("read known_hosts_file %q: %w", file, err)
	}
	v.knownHosts = callback
	v.authorities = authorities
	v.source = fmt.Sprintf("known_hosts_file %q", file)

	hostKeys, hasAuthority := v.knownKeys()
	if hasAuthority {
		v.algorithms = certificateAlgorithms()
	}
	for _, key := range hostKeys {
		for _, algorithm := range hostKeyAlgorithms(key.Type()) {
			if !slices.Contains(v.algorithms, algorithm) {
				v.algorithms = append(v.algorithms, algorithm)
			}
		}
	}
	return nil
}

// readAuthorityLines returns the numbers of a known_hosts file's @cert-authority lines,
// counted from 1 like knownhosts.KnownKey.Line.
func readAuthorityLines(file string) (map[int]bool, error) {
	content, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	authorities := make(map[int]bool)
	for index, line := range strings.Split(string(content), "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "@cert-authority") {
			authorities[index+1] = true
		}
	}
	return authorities, nil
}

func certificateAlgorithms() []string {
	var algorithms []string
	for _, algorithm := range ssh.SupportedAlgorithms().HostKeys {
		if strings.Contains(algorithm, "-cert-") {
			algorithms = append(algorithms, algorithm)
		}
	}
	return algorithms
}

var throwawayKey = sync.OnceValue(func() ssh.PublicKey {
	public, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("generate ed25519 key: %v", err))
	}
	key, err := ssh.NewPublicKey(public)
	if err != nil {
		panic(fmt.Sprintf("convert ed25519 key: %v", err))
	}
	return key
})

// knownKeys lists the host keys that the known_hosts file holds for the device, in file
// order, and reports whether a @cert-authority line matches the device. The knownhosts package
// has no lookup function, but checking a freshly generated key, which no file can list,
// returns a *knownhosts.KeyError whose Want field holds every matching line, authorities
// included.
func (v *hostKeyVerifier) knownKeys() (hostKeys []ssh.PublicKey, hasAuthority bool) {
	remote := &net.TCPAddr{IP: net.IPv4zero}
	var keyErr *knownhosts.KeyError
	if !errors.As(v.knownHosts(v.address, remote, throwawayKey()), &keyErr) {
		return nil, false
	}
	for _, want := range keyErr.Want {
		if v.authorities[want.Line] {
			hasAuthority = true
			continue
		}
		hostKeys = append(hostKeys, want.Key)
	}
	return hostKeys, hasAuthority
}

// knownHostsKeyError turns a rejection by the known_hosts file into a *HostKeyError. The key
// counts as changed when the file lists another key of the same type for the device.
func (v *hostKeyVerifier) knownHostsKeyError(key ssh.PublicKey, keyErr *knownhosts.KeyError) error {
	var expected []ssh.PublicKey
	changed := false
	for _, want := range keyErr.Want {
		if v.authorities[want.Line] {
			continue
		}
		expected = append(expected, want.Key)
		if want.Key.Type() == key.Type() {
			changed = true
		}
	}
	return v.keyError(key, changed, expected)
}
