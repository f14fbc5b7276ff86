package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// ValidateConfig checks what spans attributes; each attribute's own validators check its value.
func (r *containerResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var config containerResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}

	validateRootfsChoice(ctx, config, &resp.Diagnostics)
	validateCommand(config, &resp.Diagnostics)
	validateIDsInRange(ctx, config, &resp.Diagnostics)
	validateFilePlacement(ctx, config, &resp.Diagnostics)
	validateResolvConfFile(ctx, config, &resp.Diagnostics)
	if config.AppArmorProfile.ValueString() == "unconfined" {
		resp.Diagnostics.AddAttributeWarning(path.Root("apparmor_profile"), "Container Not Confined By AppArmor",
			"apparmor_profile = \"unconfined\" turns off AppArmor for this container on devices that have it. "+
				"Leave it unset to use LXC's generated profile.")
	}
}

// validateRootfsChoice requires exactly one of busybox = true and tarball.
func validateRootfsChoice(ctx context.Context, config containerResourceModel, diags *diag.Diagnostics) {
	if config.Rootfs.IsNull() || config.Rootfs.IsUnknown() {
		return
	}
	rootfs, d := config.rootfs(ctx)
	diags.Append(d...)
	if d.HasError() || rootfs.Busybox.IsUnknown() || rootfs.Tarball.IsUnknown() {
		return
	}
	busybox, tarball := rootfs.Busybox.ValueBool(), !rootfs.Tarball.IsNull()
	switch {
	case busybox && tarball:
		diags.AddAttributeError(path.Root("rootfs"), "Invalid Rootfs",
			"Both busybox = true and tarball are set. Set exactly one of them.")
	case !busybox && !tarball:
		diags.AddAttributeError(path.Root("rootfs"), "Invalid Rootfs",
			"Neither busybox = true nor tarball is set. Set exactly one of them, for example rootfs = { busybox = true }.")
	case tarball && !config.ReadOnlyRootfs.IsNull() && !config.ReadOnlyRootfs.IsUnknown() && !config.ReadOnlyRootfs.ValueBool():
		// The helper unpacks each tarball once into an image that containers share, so no
		// container may write to it.
		diags.AddAttributeError(path.Root("read_only_rootfs"), "Writable Rootfs Needs Busybox",
			"read_only_rootfs = false works only with rootfs = { busybox = true }: a tarball becomes a shared image "+
				"that is always mounted read-only. Write to /tmp or /run, which are in-memory file systems, or "+
				"remove read_only_rootfs.")
	}
}

func validateCommand(config containerResourceModel, diags *diag.Diagnostics) {
	if config.Command.IsNull() || config.Command.IsUnknown() || len(config.Command.Elements()) == 0 {
		return
	}
	first, ok := config.Command.Elements()[0].(types.String)
	if ok && !first.IsUnknown() && first.ValueString() == "" {
		diags.AddAttributeError(path.Root("command").AtListIndex(0), "Invalid Command",
			"The first element of command is the program to run and cannot be empty, for example \"/bin/httpd\".")
	}
}

// validateIDsInRange checks that user, group and file owners are mapped: an ID at or above
// idmap_size has no host ID, so the helper could not start the command or own the file.
func validateIDsInRange(ctx context.Context, config containerResourceModel, diags *diag.Diagnostics) {
	size := config.IdmapSize
	if size.IsUnknown() {
		return
	}
	limit := int64(defaultIdmapSize)
	if !size.IsNull() {
		limit = size.ValueInt64()
	}
	check := func(p path.Path, id types.Int64) {
		if !id.IsNull() && !id.IsUnknown() && id.ValueInt64() >= limit {
			diags.AddAttributeError(p, "ID Outside The Container's Range",
				fmt.Sprintf("ID %d is not below idmap_size (%d), so it has no user or group on the device. "+
					"Use an ID below %d or raise idmap_size.", id.ValueInt64(), limit, limit))
		}
	}
	check(path.Root("user"), config.User)
	check(path.Root("group"), config.Group)

	files, d := config.files(ctx)
	diags.Append(d...)
	for i, f := range files {
		check(path.Root("files").AtListIndex(i).AtName("uid"), f.UID)
		check(path.Root("files").AtListIndex(i).AtName("gid"), f.GID)
	}
}

// validateFilePlacement rejects files that the helper cannot place. The container mounts its
// own /dev, /proc and /sys, also /tmp and /run on a read-only rootfs, and /bin with busybox,
// so a file below them would be hidden. On an image rootfs, each file is an LXC mount entry,
// which cannot carry white space in a path.
func validateFilePlacement(ctx context.Context, config containerResourceModel, diags *diag.Diagnostics) {
	files, d := config.files(ctx)
	diags.Append(d...)
	rootfs, d := config.rootfs(ctx)
	diags.Append(d...)
	if len(files) == 0 || diags.HasError() || rootfs.Busybox.IsUnknown() || rootfs.Tarball.IsUnknown() ||
		config.ReadOnlyRootfs.IsUnknown() {
		return
	}
	busybox := rootfs.usesBusybox()
	readOnly := config.ReadOnlyRootfs.IsNull() || config.ReadOnlyRootfs.ValueBool()
	reserved := []string{"/dev", "/proc", "/sys"}
	if readOnly || !busybox {
		reserved = append(reserved, "/tmp", "/run")
	}
	if busybox {
		reserved = append(reserved, "/bin")
	}

	for i, f := range files {
		if f.Path.IsUnknown() || f.Path.IsNull() {
			continue
		}
		p, attribute := f.Path.ValueString(), path.Root("files").AtListIndex(i).AtName("path")
		for _, prefix := range reserved {
			if p == prefix || strings.HasPrefix(p, prefix+"/") {
				diags.AddAttributeError(attribute, "File Path Not Available",
					fmt.Sprintf("The container mounts its own %s over the rootfs, so file %q would be hidden. "+
						"Choose a path outside %s.", prefix, p, strings.Join(reserved, ", ")))
			}
		}
		if !busybox && strings.ContainsAny(p, " \t\n\r\v\f\\") {
			diags.AddAttributeError(attribute, "File Path Not Available",
				fmt.Sprintf("File %q cannot be placed on a tarball rootfs: each such file is a bind mount in the "+
					"LXC configuration, which cannot carry white space or backslashes in a path.", p))
		}
	}
}

// validateResolvConfFile rejects resolv_conf next to a file with the path it writes.
func validateResolvConfFile(ctx context.Context, config containerResourceModel, diags *diag.Diagnostics) {
	if config.ResolvConf.IsNull() {
		return
	}
	files, d := config.files(ctx)
	diags.Append(d...)
	for i, f := range files {
		if f.Path.ValueString() == resolvConfPath {
			diags.AddAttributeError(path.Root("files").AtListIndex(i).AtName("path"), "File Path Not Available",
				fmt.Sprintf("resolv_conf writes %s, so a file with that path would compete with it. Remove the file "+
					"or resolv_conf.", resolvConfPath))
		}
	}
}
