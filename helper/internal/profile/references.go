package profile

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// seccompProfileKey is the LXC configuration key that names a container's seccomp policy.
const seccompProfileKey = "lxc.seccomp.profile"

// references maps each policy file named by an LXC configuration to the containers whose
// configuration names it.
type references map[string][]string

// containers returns every container that names any file, sorted and without duplicates.
func (r references) containers() []string {
	var names []string
	for _, containers := range r {
		names = append(names, containers...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// findReferences reads the configuration of every container in lxcPath (<lxcPath>/<name>/config,
// the file LXC reads) and returns the values of lxc.seccomp.profile that lie inside dir. A
// missing lxcPath holds no containers.
//
// NOTE: files that a configuration pulls in with lxc.include are not read. The helper writes
// lxc.seccomp.profile into the container's own config file.
func findReferences(lxcPath, dir string) (references, error) {
	entries, err := os.ReadDir(lxcPath)
	if errors.Is(err, fs.ErrNotExist) {
		return references{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list containers in %s: %w", lxcPath, err)
	}
	found := references{}
	for _, entry := range entries {
		if !entry.IsDir() {
			continue
		}
		paths, err := seccompProfiles(filepath.Join(lxcPath, entry.Name(), "config"))
		if err != nil {
			return nil, err
		}
		for _, path := range paths {
			if strings.HasPrefix(path, dir+"/") {
				found[path] = append(found[path], entry.Name())
			}
		}
	}
	return found, nil
}

// seccompProfiles returns the cleaned values of lxc.seccomp.profile in an LXC configuration
// file, or none when the file does not exist. Like LXC, it ignores blank space around keys and
// values, quotes around a value, and lines starting with '#'.
func seccompProfiles(configPath string) ([]string, error) {
	f, err := os.Open(configPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read LXC configuration: %w", err)
	}
	defer f.Close()

	var paths []string
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) != seccompProfileKey {
			continue
		}
		if value = unquote(strings.TrimSpace(value)); value != "" {
			paths = append(paths, filepath.Clean(value))
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read LXC configuration %s: %w", configPath, err)
	}
	return paths, nil
}

// unquote removes one pair of matching single or double quotes around value.
func unquote(value string) string {
	if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
		return value[1 : len(value)-1]
	}
	return value
}

// namesShown caps the container names that a conflict message lists.
const namesShown = 10

// describeContainers returns "container a", or "containers a, b and 3 more".
func describeContainers(names []string) string {
	noun := "container "
	if len(names) > 1 {
		noun = "containers "
	}
	if len(names) <= namesShown {
		return noun + joinList(names)
	}
	return fmt.Sprintf("%s%s and %d more", noun, strings.Join(names[:namesShown], ", "), len(names)-namesShown)
}

func joinList(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
