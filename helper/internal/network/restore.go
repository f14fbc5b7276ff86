package network

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Delete removes the named network: its rules, its bridge and its record, addresses included.
// It fails with CodeConflict while a container configuration links a NIC to the bridge. The
// boot hook goes with the last network. The caller holds the exclusive lock.
func (m Manager) Delete(ctx context.Context, name string) (protocol.NetworkDeleteResult, error) {
	if err := protocol.ValidateNetworkName(name); err != nil {
		return protocol.NetworkDeleteResult{}, protocol.Errorf(protocol.CodeInvalid, "%v", err)
	}
	records, err := loadRecords(m.StateDir)
	if err != nil {
		return protocol.NetworkDeleteResult{}, err
	}
	var others []Record
	found := false
	for _, record := range records {
		if record.Spec.Name == name {
			found = true
			continue
		}
		others = append(others, record)
	}
	if !found {
		return protocol.NetworkDeleteResult{Deleted: false}, nil
	}

	containers, err := containersLinkedTo(m.LXCPath, name)
	if err != nil {
		return protocol.NetworkDeleteResult{}, err
	}
	if len(containers) > 0 {
		return protocol.NetworkDeleteResult{}, protocol.Errorf(protocol.CodeConflict,
			"network %q is still used by the containers %s, whose configuration in %s links a NIC to "+
				"bridge %s; destroy those containers or detach them from the network first",
			name, strings.Join(containers, ", "), m.LXCPath, name)
	}

	// The record goes last, so a failed step can be retried.
	if err := applyRuleset(ctx, RenderRuleset(others)); err != nil {
		return protocol.NetworkDeleteResult{}, err
	}
	if err := deleteBridge(name); err != nil {
		return protocol.NetworkDeleteResult{}, err
	}
	if len(others) == 0 {
		if err := m.BootHook.Remove(m.StateDir); err != nil {
			return protocol.NetworkDeleteResult{}, err
		}
	}
	if err := removeRecord(m.StateDir, name); err != nil {
		return protocol.NetworkDeleteResult{}, err
	}
	return protocol.NetworkDeleteResult{Deleted: true}, nil
}

// Restore rebuilds every recorded network and then starts the autostart containers, for
// example at boot. A network that fails does not stop the others or the containers; the
// error then names every failure. The caller holds the exclusive lock.
func (m Manager) Restore(ctx context.Context) (protocol.NetworkRestoreResult, error) {
	result := protocol.NetworkRestoreResult{Networks: []string{}, Started: []string{}}
	records, err := loadRecords(m.StateDir)
	if err != nil {
		return result, err
	}

	var errs []error
	for _, record := range records {
		if _, err := m.build(ctx, record, records); err != nil {
			errs = append(errs, fmt.Errorf("restore network %s: %w", record.Spec.Name, err))
			continue
		}
		result.Networks = append(result.Networks, record.Spec.Name)
	}
	if len(records) > 0 {
		if result.BootHook, err = m.BootHook.Install(m.StateDir, m.LXCPath); err != nil {
			errs = append(errs, err)
		}
	}

	if err := m.startAutostart(&result); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return result, err
	}
	return result, nil
}

// startAutostart starts the autostart containers that are stopped and records the outcome in
// result. One container that fails to start does not stop the others.
func (m Manager) startAutostart(result *protocol.NetworkRestoreResult) error {
	names, err := autostartContainers(m.LXCPath)
	if err != nil {
		return err
	}
	for _, name := range names {
		started, err := m.StartContainer(m.LXCPath, name)
		if err != nil {
			if result.Failed == nil {
				result.Failed = map[string]string{}
			}
			result.Failed[name] = err.Error()
			m.Log.Warn("autostart container did not start", "container", name, "error", err)
			continue
		}
		if started {
			result.Started = append(result.Started, name)
		}
	}
	sort.Strings(result.Started)
	return nil
}
