package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/idmap"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/initbin"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/initspec"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lxcconfig"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/rootfs"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// tmpfsOptions are the options of the tmpfs mounts of a read-only rootfs. The sizes are upper
// bounds; only used pages count, and they count against the container's memory limit.
// NOTE: 16 MiB for /tmp and 4 MiB for /run are a guess at what small workloads need.
var tmpfsOptions = map[string]string{
	"tmp": "rw,nosuid,nodev,mode=1777,size=16m",
	"run": "rw,nosuid,nodev,noexec,mode=755,size=4m",
}

// built holds the results of the build steps that the configuration needs.
type built struct {
	ids        idmap.Range
	initBinary string
	imageName  string
	config     lxcconfig.Config

	// initSpec is the content of the init spec, which the init reads only at start.
	initSpec []byte
}

// build makes the container's folders, IDs, rootfs, files and init spec match the plan, and
// returns the configuration to write.
func build(ctx context.Context, env *server.Env, paths Paths, p *plan) (*built, error) {
	if err := os.MkdirAll(paths.RecordDir(), 0o700); err != nil {
		return nil, fmt.Errorf("create container record: %w", err)
	}
	ids, err := idStore(env, paths).Allocate(ctx, paths.Name, p.idCount)
	if err != nil {
		return nil, err
	}
	b := &built{ids: ids}
	if b.initBinary, _, err = initbin.Install(paths.BinDir()); err != nil {
		return nil, err
	}
	if err := os.Chmod(paths.BinDir(), stateDirMode); err != nil {
		return nil, fmt.Errorf("set mode of %s: %w", paths.BinDir(), err)
	}
	if err := makeContainerDir(paths, ids); err != nil {
		return nil, err
	}

	owner := rootfs.Owner{HostStart: ids.Start, Count: ids.Size}
	var mounts []lxcconfig.Mount
	switch p.spec.Rootfs {
	case protocol.RootfsBusybox:
		mounts, err = buildBusybox(ctx, env, paths, p, b, owner)
	case protocol.RootfsImage:
		mounts, err = buildImage(paths, p, b, owner)
	}
	if err != nil {
		return nil, err
	}
	if b.initSpec, err = writeInitSpec(paths, p.spec, owner); err != nil {
		return nil, err
	}
	b.config = configFor(paths, p, b, mounts)
	return b, nil
}

func idStore(env *server.Env, paths Paths) idmap.Store {
	return idmap.Store{
		PoolPath:    paths.IdmapPool(),
		LockPath:    paths.IdmapLock(),
		SubUIDPath:  idmap.SubUIDFile,
		SubGIDPath:  idmap.SubGIDFile,
		LockTimeout: env.State.LockTimeout,
	}
}

// makeContainerDir creates the LXC folder. The container's mapped root must traverse it to
// reach the rootfs and the init spec, so its group is the container's root group.
func makeContainerDir(paths Paths, ids idmap.Range) error {
	if err := os.MkdirAll(paths.LXCPath, 0o755); err != nil {
		return fmt.Errorf("create lxc path: %w", err)
	}
	if err := mkdirForRoot(paths.Dir(), rootfs.Owner{HostStart: ids.Start, Count: ids.Size}); err != nil {
		return fmt.Errorf("create container folder: %w", err)
	}
	return nil
}

// mkdirForRoot creates dir, owned by host root and the container's root group with mode
// 0750, so that the container's root can traverse it to mount what it holds, and no other
// container or user can.
func mkdirForRoot(dir string, owner rootfs.Owner) error {
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := os.Chown(dir, 0, owner.Host(0)); err != nil {
		return err
	}
	return os.Chmod(dir, 0o750)
}

// buildBusybox builds the shared base and the container's own skeleton, and places files.
func buildBusybox(ctx context.Context, env *server.Env, paths Paths, p *plan, b *built, owner rootfs.Owner) ([]lxcconfig.Mount, error) {
	var base string
	err := withImagesLock(ctx, env, paths, func() error {
		if err := os.MkdirAll(paths.ImagesDir(), stateDirMode); err != nil {
			return fmt.Errorf("create images folder: %w", err)
		}
		var err error
		base, err = rootfs.EnsureBusyboxBase(paths.ImagesDir(), p.busybox)
		return err
	})
	if err != nil {
		return nil, err
	}
	b.imageName = filepath.Base(base)

	root := owner.Host(0)
	if err := rootfs.BuildSkeleton(paths.Rootfs(), root, root); err != nil {
		return nil, err
	}
	if err := rootfs.PlaceFiles(paths.Rootfs(), rootfsFiles(p.spec), owner); err != nil {
		return nil, err
	}
	mounts := []lxcconfig.Mount{{Source: rootfs.BusyboxBin(base), Target: "bin", FSType: "none", Options: "bind,ro,nosuid,nodev"}}
	if p.spec.ReadOnlyRootfs {
		mounts = append(mounts, tmpfsMountsFor("")...)
	}
	return mounts, nil
}

// buildImage writes the files that are bind-mounted over the read-only image.
func buildImage(paths Paths, p *plan, b *built, owner rootfs.Owner) ([]lxcconfig.Mount, error) {
	b.imageName = p.spec.ImageSHA256
	mounts := tmpfsMountsFor(",optional")
	if err := mkdirForRoot(paths.FilesDir(), owner); err != nil {
		return nil, fmt.Errorf("create files folder: %w", err)
	}
	keep := map[string]bool{}
	for _, file := range rootfsFiles(p.spec) {
		source, err := writeImageFile(paths, file, owner)
		if err != nil {
			return nil, err
		}
		keep[filepath.Base(source)] = true
		mounts = append(mounts, lxcconfig.Mount{
			Source: source, Target: strings.TrimPrefix(file.Path, "/"), FSType: "none", Options: "bind,ro,nosuid,nodev",
		})
	}
	return mounts, removeUnlisted(paths.FilesDir(), keep)
}

// writeImageFile writes a file's content to its source in the files folder, in place: a
// running container holds the bind-mounted inode, so a rename would hide the update from it.
func writeImageFile(paths Paths, file protocol.File, owner rootfs.Owner) (string, error) {
	source := filepath.Join(paths.FilesDir(), sha256Hex([]byte(file.Path))[:16])
	handle, err := os.OpenFile(source, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("write file %q: %w", file.Path, err)
	}
	_, writeErr := handle.Write(file.Content)
	chownErr := handle.Chown(owner.Host(file.UID), owner.Host(file.GID))
	chmodErr := handle.Chmod(fs.FileMode(file.Mode))
	closeErr := handle.Close()
	if err := errors.Join(writeErr, chownErr, chmodErr, closeErr); err != nil {
		return "", fmt.Errorf("write file %q: %w", file.Path, err)
	}
	return source, nil
}

// removeUnlisted removes the entries of dir whose names are not in keep.
func removeUnlisted(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, entry := range entries {
		if !keep[entry.Name()] {
			if err := os.Remove(filepath.Join(dir, entry.Name())); err != nil {
				return fmt.Errorf("remove old file: %w", err)
			}
		}
	}
	return nil
}

func tmpfsMountsFor(extra string) []lxcconfig.Mount {
	var mounts []lxcconfig.Mount
	for _, target := range []string{"tmp", "run"} {
		mounts = append(mounts, lxcconfig.Mount{Source: "tmpfs", Target: target, FSType: "tmpfs", Options: tmpfsOptions[target] + extra})
	}
	return mounts
}

// writeInitSpec writes the spec that iotfleet-init reads. The init runs as the workload's user,
// so that user owns the file with mode 0400, and no other user in the container can read the
// environment in it.
func writeInitSpec(paths Paths, spec protocol.ContainerSpec, owner rootfs.Owner) ([]byte, error) {
	filter, err := compatFilter(paths, spec.SeccompProfile)
	if err != nil {
		return nil, err
	}
	data, err := initspec.Spec{
		Argv:          spec.Command,
		Env:           environment(spec.Environment),
		Dir:           spec.WorkingDir,
		SeccompFilter: filter,
	}.Marshal()
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeInvalid, "container %q: %v", spec.Name, err)
	}
	if err := atomicfile.WriteFile(paths.InitSpec(), data, 0o400); err != nil {
		return nil, fmt.Errorf("write init spec: %w", err)
	}
	if err := os.Chown(paths.InitSpec(), owner.Host(spec.User), owner.Host(spec.Group)); err != nil {
		return nil, fmt.Errorf("set owner of init spec: %w", err)
	}
	return data, nil
}

// environment returns the workload's environment as sorted KEY=VALUE entries, with PATH set
// to initspec.DefaultPath unless the spec sets it.
func environment(vars map[string]string) []string {
	env := make([]string, 0, len(vars)+1)
	if _, ok := vars["PATH"]; !ok {
		env = append(env, "PATH="+initspec.DefaultPath)
	}
	for key, value := range vars {
		env = append(env, key+"="+value)
	}
	sort.Strings(env)
	return env
}

func configFor(paths Paths, p *plan, b *built, mounts []lxcconfig.Mount) lxcconfig.Config {
	config := lxcconfig.Config{
		Name:            p.spec.Name,
		HostIDStart:     b.ids.Start,
		IDCount:         b.ids.Size,
		InitBinary:      b.initBinary,
		InitSpec:        paths.InitSpec(),
		UID:             p.spec.User,
		GID:             p.spec.Group,
		Mounts:          mounts,
		Capabilities:    p.spec.Capabilities,
		NoNewPrivs:      p.spec.NoNewPrivs,
		Devices:         p.devices,
		Limits:          p.limits,
		SeccompProfile:  p.spec.SeccompProfile,
		AppArmorProfile: p.appArmorProfile,
		Autostart:       p.spec.Autostart,
		Network:         networkLines(p.nics),
		LogFile:         paths.Log(),
	}
	switch p.spec.Rootfs {
	case protocol.RootfsBusybox:
		config.RootfsPath = paths.Rootfs()
		if p.spec.ReadOnlyRootfs {
			config.RootfsOptions = []string{"ro"}
		}
	case protocol.RootfsImage:
		// The shared image is never writable, and the idmapped mount shows its files with
		// the owners the archive gave them.
		// NOTE: idmapped mounts need Linux 5.12 or newer and a file system that supports them
		// (ext4, btrfs and xfs do); LXC reports the failure at start on other devices.
		config.RootfsPath = p.imageRootfs
		config.RootfsOptions = []string{"ro", "idmap=container"}
	}
	return config
}

// withImagesLock runs fn under the exclusive lock of the images folder.
func withImagesLock(ctx context.Context, env *server.Env, paths Paths, fn func() error) error {
	lock, err := acquire(ctx, env, paths.ImagesLock(), lockfile.Exclusive, "the images folder")
	if err != nil {
		return err
	}
	return releaseAfter(lock, fn())
}
