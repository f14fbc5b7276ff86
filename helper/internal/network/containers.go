package network

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// netLinkKey matches the LXC key that names the bridge of a container's NIC.
var netLinkKey = regexp.MustCompile(`^lxc\.net\.[0-9]+\.link$`)

// containerConfig is the part of one container's LXC configuration that the network package reads.
type containerConfig struct {
	name string

	// links are the values of the lxc.net.N.link keys.
	links []string

	autostart  bool
	startOrder int
}

// readContainerConfigs parses the configuration of every container in lxcPath: each folder
// with a regular file named config, which is what lxc-ls lists. A missing lxcPath has none.
//
// NOTE: keys that a configuration pulls in with lxc.include are not read.
func readContainerConfigs(lxcPath string) ([]containerConfig, error) {
	entries, err := os.ReadDir(lxcPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list containers in %s: %w", lxcPath, err)
	}
	var configs []containerConfig
	for _, entry := range entries {
		path := filepath.Join(lxcPath, entry.Name(), "config")
		info, err := os.Stat(path)
		if !entry.IsDir() || err != nil || !info.Mode().IsRegular() {
			continue
		}
		config, err := readContainerConfig(entry.Name(), path)
		if err != nil {
			return nil, err
		}
		configs = append(configs, config)
	}
	return configs, nil
}

// readContainerConfig parses one LXC configuration file. Later keys win, as in LXC.
func readContainerConfig(name, path string) (containerConfig, error) {
	file, err := os.Open(path)
	if err != nil {
		return containerConfig{}, fmt.Errorf("read container configuration: %w", err)
	}
	defer file.Close()

	config := containerConfig{name: name}
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		key, value, ok := strings.Cut(scanner.Text(), "=")
		key = strings.TrimSpace(key)
		if !ok || strings.HasPrefix(key, "#") {
			continue
		}
		value = strings.TrimSpace(value)
		switch {
		case netLinkKey.MatchString(key):
			config.links = append(config.links, value)
		case key == "lxc.start.auto":
			config.autostart = value == "1"
		case key == "lxc.start.order":
			// LXC treats a value it cannot parse as 0, and so does this.
			config.startOrder, _ = strconv.Atoi(value)
		}
	}
	if err := scanner.Err(); err != nil {
		return containerConfig{}, fmt.Errorf("read container configuration %s: %w", path, err)
	}
	return config, nil
}

// containersLinkedTo returns the sorted names of the containers that have a NIC on bridge.
func containersLinkedTo(lxcPath, bridge string) ([]string, error) {
	configs, err := readContainerConfigs(lxcPath)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, config := range configs {
		for _, link := range config.links {
			if link == bridge {
				names = append(names, config.name)
				break
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// autostartContainers returns the containers with lxc.start.auto = 1 in the order that
// lxc.container.conf(5) gives lxc-autostart: lower lxc.start.order first, then by name.
//
// NOTE: lxc.start.delay and lxc.group are not honored.
func autostartContainers(lxcPath string) ([]string, error) {
	configs, err := readContainerConfigs(lxcPath)
	if err != nil {
		return nil, err
	}
	var auto []containerConfig
	for _, config := range configs {
		if config.autostart {
			auto = append(auto, config)
		}
	}
	sort.Slice(auto, func(i, j int) bool {
		if auto[i].startOrder != auto[j].startOrder {
			return auto[i].startOrder < auto[j].startOrder
		}
		return auto[i].name < auto[j].name
	})
	names := make([]string, len(auto))
	for i, config := range auto {
		names[i] = config.name
	}
	return names, nil
}
