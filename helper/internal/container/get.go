package container

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/liblxc"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/rootfs"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Get returns the observed state of a container that the helper manages.
func Get(ctx context.Context, env *server.Env, name string) (protocol.ContainerState, error) {
	if err := ValidateName(name); err != nil {
		return protocol.ContainerState{}, err
	}
	var state protocol.ContainerState
	err := withLocks(ctx, env, name, lockfile.Shared, func(paths Paths) error {
		var err error
		state, err = readState(paths)
		return err
	})
	return state, err
}

// readState reads the container's state. A container whose record or LXC configuration is
// missing, because it was never created or was destroyed outside the helper, is not found.
func readState(paths Paths) (protocol.ContainerState, error) {
	r, err := readRecord(paths)
	if err != nil {
		return protocol.ContainerState{}, err
	}
	if r == nil {
		return protocol.ContainerState{}, protocol.Errorf(protocol.CodeNotFound, "container %q not found", paths.Name)
	}
	configSum, err := fileSHA256(paths.Config())
	if err != nil {
		return protocol.ContainerState{}, err
	}
	if configSum == "" {
		return protocol.ContainerState{}, protocol.Errorf(protocol.CodeNotFound,
			"container %q not found: its LXC configuration %s was removed outside iotfleet", paths.Name, paths.Config())
	}

	c, err := liblxc.Open(paths.LXCPath, paths.Name)
	if err != nil {
		return protocol.ContainerState{}, err
	}
	defer c.Close()
	size, err := ownBytes(paths)
	if err != nil {
		return protocol.ContainerState{}, err
	}
	nics, err := nicStates(c, paths, r)
	if err != nil {
		return protocol.ContainerState{}, err
	}
	return protocol.ContainerState{
		Name:                paths.Name,
		State:               c.State(),
		InitPID:             max(c.InitPID(), 0),
		HostUIDStart:        int(r.HostIDStart),
		HostGIDStart:        int(r.HostIDStart),
		IdmapSize:           int(r.IDCount),
		ConfigSHA256:        configSum,
		AppliedConfigSHA256: r.ConfigSHA256,
		RootfsBytes:         size,
		Spec:                r.Spec,
		Networks:            nics,
	}, nil
}

// ownBytes returns the disk space of the container's LXC folder and record, which excludes
// the shared busybox base and images.
func ownBytes(paths Paths) (int64, error) {
	var total int64
	for _, dir := range []string{paths.Dir(), paths.RecordDir()} {
		size, err := rootfs.DiskUsage(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		total += size
	}
	return total, nil
}

// configExists reports whether the container's LXC configuration file exists.
func configExists(paths Paths) bool {
	_, err := os.Stat(paths.Config())
	return err == nil
}
