package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Delete stops and removes a container with everything the helper made for it: its LXC
// folder, addresses on networks, record, cgroups and ID range, and its image when no other
// container uses it. A container that does not exist is not an error; one that iotfleet did
// not create is a conflict.
func Delete(ctx context.Context, env *server.Env, name string) (protocol.ContainerDeleteResult, error) {
	if err := ValidateName(name); err != nil {
		return protocol.ContainerDeleteResult{}, err
	}
	var result protocol.ContainerDeleteResult
	err := withLocks(ctx, env, name, lockfile.Exclusive, func(paths Paths) error {
		var err error
		result.Deleted, err = deleteContainer(ctx, env, paths)
		return err
	})
	return result, err
}

func deleteContainer(ctx context.Context, env *server.Env, paths Paths) (bool, error) {
	r, err := readRecord(paths)
	if err != nil {
		return false, err
	}
	_, recordErr := os.Stat(paths.RecordDir())
	managed := r != nil || recordErr == nil
	if !managed {
		if configExists(paths) {
			return false, protocol.Errorf(protocol.CodeConflict,
				"container %q in %s was not created by iotfleet; remove it with lxc-destroy", paths.Name, paths.LXCPath)
		}
		return false, nil
	}

	if configExists(paths) {
		if _, err := stopContainer(paths); err != nil {
			return false, err
		}
	}
	// The container's rootfs of an image container is the shared image, so LXC's destroy,
	// which deletes the rootfs path, is never called: the helper removes only the folders it
	// made.
	if err := os.RemoveAll(paths.Dir()); err != nil {
		return false, fmt.Errorf("remove container folder: %w", err)
	}
	// Its configuration, which linked the NICs to bridges, went with the folder.
	if err := releaseNetworks(ctx, env, paths); err != nil {
		return false, err
	}
	if err := removeCgroups(paths); err != nil {
		return false, err
	}
	if _, err := idStore(env, paths).Release(ctx, paths.Name); err != nil {
		return false, err
	}
	if err := os.RemoveAll(paths.RecordDir()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove container record: %w", err)
	}
	if r != nil {
		if err := collectImage(ctx, env, paths, r.Image); err != nil {
			return false, err
		}
	}
	return true, nil
}

// removeCgroups removes cgroups that LXC left for the container. A monitor that was killed
// leaves them, and the next start of a container with the same name then fails with ERANGE.
func removeCgroups(paths Paths) error {
	leftovers, err := cgroup.Stale(paths.LXCPath, paths.Name)
	if err != nil {
		return err
	}
	for _, dir := range leftovers {
		if err := cgroup.Remove(dir); err != nil {
			return err
		}
	}
	return nil
}
