package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/capability"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/facts"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/liblxc"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/rootfs"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Timeouts of run state changes.
const (
	startTimeout = 30 * time.Second
	stopGrace    = 10 * time.Second
	killWait     = 10 * time.Second
)

// Apply creates the container that spec describes or converges an existing one to it.
func Apply(ctx context.Context, env *server.Env, spec protocol.ContainerSpec) (protocol.ContainerApplyResult, error) {
	host, err := ReadHost()
	if err != nil {
		return protocol.ContainerApplyResult{}, err
	}
	if err := ValidateSpec(spec, host); err != nil {
		return protocol.ContainerApplyResult{}, err
	}
	var result protocol.ContainerApplyResult
	err = withLocks(ctx, env, spec.Name, lockfile.Exclusive, func(paths Paths) error {
		var err error
		result, err = apply(ctx, env, paths, spec, host)
		return err
	})
	return result, err
}

// ReadHost reads what validation needs from the running kernel.
func ReadHost() (Host, error) {
	lastCap, err := capability.ReadLastCap()
	if err != nil {
		return Host{}, err
	}
	enabled, err := os.ReadFile(facts.AppArmorEnabledFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Host{}, fmt.Errorf("read apparmor state: %w", err)
	}
	return Host{LastCap: lastCap, AppArmor: len(enabled) > 0 && enabled[0] == 'Y'}, nil
}

func apply(ctx context.Context, env *server.Env, paths Paths, spec protocol.ContainerSpec, host Host) (protocol.ContainerApplyResult, error) {
	previous, err := readRecord(paths)
	if err != nil {
		return protocol.ContainerApplyResult{}, err
	}
	if err := checkOwned(paths); err != nil {
		return protocol.ContainerApplyResult{}, err
	}
	layout, err := cgroup.Detect()
	if err != nil {
		return protocol.ContainerApplyResult{}, err
	}
	p, err := newPlan(paths, spec, host, layout)
	if err != nil {
		return protocol.ContainerApplyResult{}, err
	}
	// The helper checks addresses while it records them; attachNetworks undoes a failure.
	if p.nics, err = attachNetworks(ctx, env, paths, spec.Networks, previous); err != nil {
		return protocol.ContainerApplyResult{}, err
	}

	result, err := applyPlan(ctx, env, paths, p, previous)
	if err != nil && previous == nil {
		if releaseErr := releaseUnrecorded(ctx, env, paths); releaseErr != nil {
			err = errors.Join(err, releaseErr)
		}
	}
	return result, err
}

// applyPlan changes the container to match p, which newPlan and attachNetworks prepared.
func applyPlan(ctx context.Context, env *server.Env, paths Paths, p *plan,
	previous *record) (protocol.ContainerApplyResult, error) {
	// Everything was checked; changes start here.
	current, restart, wasRunning, err := change(ctx, env, paths, p, previous)
	if err != nil {
		return protocol.ContainerApplyResult{}, err
	}
	drifted, err := runningNICsDrifted(paths, current)
	if err != nil {
		return protocol.ContainerApplyResult{}, err
	}
	restarted, err := converge(paths, p, previous, restart || drifted)
	if err != nil {
		return protocol.ContainerApplyResult{}, err
	}
	restarted = restarted || (wasRunning && p.spec.Running)

	// The old image goes only after the container has left it.
	if previous != nil && previous.Image != current.Image {
		if err := collectImage(ctx, env, paths, previous.Image); err != nil {
			return protocol.ContainerApplyResult{}, err
		}
	}
	state, err := readState(paths)
	return protocol.ContainerApplyResult{State: state, Restarted: restarted}, err
}

// checkOwned returns a CodeConflict error when an LXC container of the same name exists that
// iotfleet did not create. A create that failed midway leaves the record folder, which marks
// the container as iotfleet's own.
func checkOwned(paths Paths) error {
	if _, err := os.Stat(paths.RecordDir()); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(paths.Config()); err != nil {
		return nil
	}
	return protocol.Errorf(protocol.CodeConflict, "an LXC container named %q exists in %s that "+
		"iotfleet did not create; choose another name or remove that container", paths.Name, paths.LXCPath)
}

// change builds the container, writes its configuration and record, and reports whether a
// running container must restart to load the change and whether an ID change stopped it.
func change(ctx context.Context, env *server.Env, paths Paths, p *plan, previous *record) (*record, bool, bool, error) {
	restart, wasRunning, err := prepareIDChange(ctx, env, paths, previous, p)
	if err != nil {
		return nil, false, false, err
	}
	b, err := build(ctx, env, paths, p)
	if err != nil {
		return nil, false, false, err
	}
	if restart {
		if err := shiftOwners(paths.Dir(), previous.HostIDStart, b.ids.Start, previous.IDCount); err != nil {
			return nil, false, false, err
		}
	}
	if previous != nil && p.spec.Rootfs == protocol.RootfsBusybox {
		dropped := droppedFiles(rootfsFiles(previous.Spec), rootfsFiles(p.spec))
		if err := rootfs.RemoveFiles(paths.Rootfs(), dropped); err != nil {
			return nil, false, false, err
		}
	}

	config := b.config.Render()
	if err := atomicfile.WriteFile(paths.Config(), []byte(config), 0o640); err != nil {
		return nil, false, false, fmt.Errorf("write container configuration: %w", err)
	}
	current := &record{
		Spec:          p.spec,
		ConfigSHA256:  sha256Hex([]byte(config)),
		RestartSHA256: sha256Hex(append([]byte(b.config.RestartKey()), b.initSpec...)),
		Image:         b.imageName,
		HostIDStart:   b.ids.Start,
		IDCount:       b.ids.Size,
		Networks:      attachedNICs(p.nics),
	}
	if err := writeRecord(paths, current); err != nil {
		return nil, false, false, err
	}
	restart = restart || (previous != nil && previous.RestartSHA256 != current.RestartSHA256)
	return current, restart, wasRunning, nil
}

// prepareIDChange stops the container and returns its range to the pool when the spec
// requests another number of IDs. It reports whether it did, so that the caller moves file owners
// to the new range, and whether the container was running.
func prepareIDChange(ctx context.Context, env *server.Env, paths Paths, previous *record, p *plan) (changed, wasRunning bool, err error) {
	if previous == nil || previous.IDCount == p.idCount {
		return false, false, nil
	}
	if wasRunning, err = stopContainer(paths); err != nil {
		return false, false, err
	}
	if _, err := idStore(env, paths).Release(ctx, paths.Name); err != nil {
		return false, false, err
	}
	return true, wasRunning, nil
}

// runningNICsDrifted reports whether the container runs with NIC addresses other than those
// that current records, for example after someone changed them inside. Only a restart sets
// them again.
func runningNICsDrifted(paths Paths, current *record) (bool, error) {
	c, err := liblxc.Open(paths.LXCPath, paths.Name)
	if err != nil {
		return false, err
	}
	defer c.Close()
	if !c.Running() {
		return false, nil
	}
	states, err := nicStates(c, paths, current)
	if err != nil {
		return false, err
	}
	return nicsDrifted(states), nil
}

// droppedFiles returns the paths in old that are not in current.
func droppedFiles(old, current []protocol.File) []string {
	kept := map[string]bool{}
	for _, file := range current {
		kept[file.Path] = true
	}
	var dropped []string
	for _, file := range old {
		if !kept[file.Path] {
			dropped = append(dropped, file.Path)
		}
	}
	return dropped
}

// converge starts, stops or restarts the container, or changes its limits live, and reports
// whether a running container was restarted.
func converge(paths Paths, p *plan, previous *record, restart bool) (bool, error) {
	c, err := liblxc.Open(paths.LXCPath, paths.Name)
	if err != nil {
		return false, err
	}
	defer c.Close()

	running := c.Running()
	switch {
	case !p.spec.Running:
		return false, stopRunning(c, paths)
	case !running:
		return false, startContainer(c, paths)
	case restart:
		if err := stopRunning(c, paths); err != nil {
			return false, err
		}
		return true, startContainer(c, paths)
	case previous != nil && !reflect.DeepEqual(previous.Spec.Limits, p.spec.Limits):
		if err := setLimitsLive(c, p); err != nil {
			// A limit the kernel refuses live, such as a memory limit below the current
			// usage, still takes effect through the configuration at the next start.
			if err := stopRunning(c, paths); err != nil {
				return false, err
			}
			return true, startContainer(c, paths)
		}
	}
	return false, nil
}

// setLimitsLive writes the new limits into the running container's cgroups and lifts the
// limits that the spec dropped.
func setLimitsLive(c *liblxc.Container, p *plan) error {
	set := map[string]bool{}
	for _, setting := range p.limits {
		set[setting.Key] = true
	}
	var settings []cgroup.Setting
	for _, setting := range cgroup.LiftSettings(p.layout) {
		if !set[setting.Key] {
			settings = append(settings, setting)
		}
	}
	for _, setting := range append(settings, p.limits...) {
		if err := c.SetCgroupItem(setting.Key, setting.Value); err != nil {
			return err
		}
	}
	return nil
}

func startContainer(c *liblxc.Container, paths Paths) error {
	offset := logSize(paths.Log())
	if err := c.Start(startTimeout); err != nil {
		return fmt.Errorf("container %q: %w%s", paths.Name, err, logTail(paths.Log(), offset))
	}
	return nil
}

func stopRunning(c *liblxc.Container, paths Paths) error {
	if err := c.Stop(stopGrace, killWait); err != nil {
		return fmt.Errorf("container %q: %w", paths.Name, err)
	}
	return nil
}

// stopContainer stops the container if it runs, and reports whether it did.
func stopContainer(paths Paths) (bool, error) {
	c, err := liblxc.Open(paths.LXCPath, paths.Name)
	if err != nil {
		return false, err
	}
	defer c.Close()
	running := c.Running()
	return running, stopRunning(c, paths)
}
