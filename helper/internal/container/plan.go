package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/image"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/network"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/rootfs"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// plan is everything an apply needs that can be checked before anything changes.
type plan struct {
	spec    protocol.ContainerSpec
	idCount uint64

	// busybox is the device's static busybox for a busybox rootfs.
	busybox string

	// imageRootfs is the unpacked image for an image rootfs.
	imageRootfs string

	// appArmorProfile is the profile to write, empty where AppArmor is disabled.
	appArmorProfile string

	devices []cgroup.Setting
	limits  []cgroup.Setting
	layout  cgroup.Layout

	// nics are the container's attachments to networks, in spec order, once attachNetworks
	// allocated their addresses.
	nics []network.Attachment
}

// Paths inside the container that the helper mounts over, so no file may be placed there.
var (
	alwaysReserved  = []string{"/dev", "/proc", "/sys"}
	tmpfsMounts     = []string{"/tmp", "/run"}
	busyboxReserved = []string{"/bin"}
)

// newPlan checks everything about spec that depends on the device, without changing it.
func newPlan(paths Paths, spec protocol.ContainerSpec, host Host, layout cgroup.Layout) (*plan, error) {
	p := &plan{spec: spec, idCount: uint64(idmapSize(spec)), layout: layout}
	if host.AppArmor {
		p.appArmorProfile = spec.AppArmorProfile
		if p.appArmorProfile == "" {
			p.appArmorProfile = "generated"
		}
	}
	invalid := func(err error) error {
		return protocol.Errorf(protocol.CodeInvalid, "container %q: %v", spec.Name, err)
	}

	var err error
	if p.devices, err = cgroup.DeviceSettings(layout); err != nil {
		return nil, invalid(err)
	}
	if p.limits, err = cgroup.LimitSettings(layout, spec.Limits); err != nil {
		return nil, invalid(err)
	}

	owner := rootfs.Owner{Count: p.idCount}
	reserved := append([]string(nil), alwaysReserved...)
	if spec.ReadOnlyRootfs {
		reserved = append(reserved, tmpfsMounts...)
	}
	var checkFiles func(files []protocol.File) error
	switch spec.Rootfs {
	case protocol.RootfsBusybox:
		if p.busybox, err = rootfs.FindBusybox(rootfs.BusyboxCandidates); err != nil {
			return nil, invalid(err)
		}
		reserved = append(reserved, busyboxReserved...)
		checkFiles = func(files []protocol.File) error {
			return rootfs.CheckFiles(existingDir(paths.Rootfs()), files, owner, reserved)
		}
	case protocol.RootfsImage:
		if !image.Exists(paths.ImagesDir(), spec.ImageSHA256) {
			return nil, protocol.Errorf(protocol.CodeNotFound, "container %q: image %s is not on the "+
				"device; import it with image.import first", spec.Name, spec.ImageSHA256)
		}
		p.imageRootfs = image.Rootfs(paths.ImagesDir(), spec.ImageSHA256)
		checkFiles = func(files []protocol.File) error {
			return checkImageFiles(p.imageRootfs, files, owner, reserved)
		}
	default:
		return nil, invalid(fmt.Errorf("invalid rootfs %q", spec.Rootfs))
	}
	if err := checkFiles(spec.Files); err != nil {
		return nil, invalid(err)
	}
	if resolvConf, ok := resolvConfFile(spec); ok {
		if err := checkFiles([]protocol.File{resolvConf}); err != nil {
			return nil, invalid(fmt.Errorf("resolv_conf: %w", err))
		}
	}
	return p, nil
}

// resolvConfPath is the path inside the container that a spec's ResolvConf sets.
const resolvConfPath = "/etc/resolv.conf"

// resolvConfFile returns the file that a spec's ResolvConf describes, and false when the spec
// sets none.
func resolvConfFile(spec protocol.ContainerSpec) (protocol.File, bool) {
	if spec.ResolvConf == "" {
		return protocol.File{}, false
	}
	return protocol.File{Path: resolvConfPath, Content: []byte(spec.ResolvConf), Mode: 0o644}, true
}

// rootfsFiles returns the files that the helper places into the container's rootfs: the
// spec's files and, when it sets one, /etc/resolv.conf.
func rootfsFiles(spec protocol.ContainerSpec) []protocol.File {
	resolvConf, ok := resolvConfFile(spec)
	if !ok {
		return spec.Files
	}
	return append(slices.Clone(spec.Files), resolvConf)
}

// existingDir returns dir when it exists and "" otherwise, which limits CheckFiles to the
// checks that need no rootfs.
func existingDir(dir string) string {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return dir
}

// checkImageFiles checks files for an image rootfs. The image is shared and read-only, so
// each file is bind-mounted over a file that the image already has, and its path becomes part
// of an lxc.mount.entry line, which cannot carry white space.
func checkImageFiles(imageRootfs string, files []protocol.File, owner rootfs.Owner, reserved []string) error {
	if err := rootfs.CheckFiles(imageRootfs, files, owner, reserved); err != nil {
		return err
	}
	for _, file := range files {
		if strings.ContainsAny(file.Path, " \t\n\r\v\f\\") {
			return fmt.Errorf("file %q: paths of files in an image rootfs cannot contain white space "+
				"or backslashes", file.Path)
		}
		if !rootfs.IsRegularFile(imageRootfs, file.Path) {
			return fmt.Errorf("file %q: an image rootfs is read-only, so files can only replace "+
				"regular files that the image has; add the file to the image", file.Path)
		}
	}
	return nil
}
