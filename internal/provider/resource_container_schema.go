package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Defaults of the hardening attributes, shown in every plan.
const (
	defaultMemoryLimit = "128MiB"
	defaultCPUWeight   = 100
	defaultPidsLimit   = 128
	defaultIdmapSize   = 65536
)

func (r *containerResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attributes := map[string]schema.Attribute{
		"id": schema.StringAttribute{
			MarkdownDescription: "The container as `user@host:port/name`, also its import ID.",
			Computed:            true,
		},
		"device": containerDeviceAttribute(),
		"name": schema.StringAttribute{
			MarkdownDescription: "Name of the container on the device: 1 to 63 characters of `a-z`, `0-9` and `-`, " +
				"starting and ending with a letter or digit. Changing it replaces the container.",
			Required:      true,
			Validators:    []validator.String{containerNameValidator()},
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
		},
		"running": schema.BoolAttribute{
			MarkdownDescription: "Whether the container runs. Defaults to `true`. A container that stopped outside " +
				"Terraform shows up in the plan as `false`, and applying starts it again.",
			Optional: true,
			Computed: true,
			Default:  booldefault.StaticBool(true),
		},
		"autostart": schema.BoolAttribute{
			MarkdownDescription: "Whether the container starts when the device boots. Defaults to `false`.",
			Optional:            true,
			Computed:            true,
			Default:             booldefault.StaticBool(false),
		},
		"rootfs":  containerRootfsAttribute(),
		"files":   containerFilesAttribute(),
		"command": containerCommandAttribute(),
		"environment": schema.MapAttribute{
			MarkdownDescription: "Environment variables of `command`. Changing them restarts a running container.",
			ElementType:         types.StringType,
			Optional:            true,
			Validators: []validator.Map{
				mapvalidator.KeysAre(envNameValidator()),
				mapvalidator.ValueStringsAre(argumentValidator()),
			},
		},
		"working_dir": schema.StringAttribute{
			MarkdownDescription: "Absolute folder inside the container that `command` starts in. Defaults to `/`.",
			Optional:            true,
			Validators:          []validator.String{containerPathValidator()},
		},
		"user":  idAttribute("Numeric user ID inside the container that `command` runs as. Defaults to `0`."),
		"group": idAttribute("Numeric group ID inside the container that `command` runs as. Defaults to `0`."),
		"timeouts": timeouts.Attributes(ctx, timeouts.Opts{
			Create: true, Update: true, Delete: true,
			CreateDescription: "Time allowed to create the container, tarball upload included. Defaults to `10m`.",
			UpdateDescription: "Time allowed to update the container, restart included. Defaults to `5m`.",
			DeleteDescription: "Time allowed to stop and destroy the container. Defaults to `5m`.",
		}),
	}
	for name, attribute := range containerHardeningAttributes() {
		attributes[name] = attribute
	}
	for name, attribute := range containerComputedAttributes() {
		attributes[name] = attribute
	}

	attributes["resolv_conf"] = schema.StringAttribute{
		MarkdownDescription: "Content of `/etc/resolv.conf` inside the container, placed like a file with mode `0644` " +
			"and owner `0:0`, for example `\"nameserver 10.80.0.1\\n\"`. Unset places none. A tarball rootfs must " +
			"have a regular file `/etc/resolv.conf` for it to replace. It cannot be combined with a file of the same " +
			"path in `files`.",
		Optional:   true,
		Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
	}

	resp.Schema = schema.Schema{
		MarkdownDescription: "A hardened, unprivileged LXC container on a device.\n\n" +
			"Every container gets its own range of host user and group IDs (`idmap_size` of them), so root inside " +
			"is an unprivileged user on the device. The defaults keep no capability, set no_new_privs, mount the " +
			"rootfs read-only and limit memory, CPU weight and processes; each default shows in the plan.\n\n" +
			"Changes to `running`, `autostart` and `files` apply without a restart, except that adding or removing " +
			"a file on a tarball rootfs restarts the container. New limits (`memory_limit`, `cpu_weight`, " +
			"`cpu_limit`, `pids_limit`) are written into the running container's cgroups; one that the kernel " +
			"rejects live, such as a memory limit below the current usage, restarts the container instead. Every " +
			"other change restarts a running container, and the plan warns which attributes cause it. Changing " +
			"`device` (host, port, state_dir, lxc_path), `name` or the rootfs image replaces the container.",
		Attributes: attributes,
		Blocks:     map[string]schema.Block{"network": containerNetworkBlock()},
	}
}

func containerDeviceAttribute() schema.SingleNestedAttribute {
	return deviceAttribute("The device to run on, usually `iotfleet_device.<name>.target`. Changing its host, " +
		"port, `state_dir` or `lxc_path` replaces the container; `user`, `host_key` and `arch` change in place.")
}

func containerRootfsAttribute() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		MarkdownDescription: "The root file system: set exactly one of `busybox = true` or `tarball`. Changing the " +
			"kind of rootfs, or the tarball's content, replaces the container.",
		Required: true,
		Attributes: map[string]schema.Attribute{
			"busybox": schema.BoolAttribute{
				MarkdownDescription: "Build a minimal rootfs from the device's own static busybox (`/bin/busybox`).",
				Optional:            true,
			},
			"tarball": schema.StringAttribute{
				MarkdownDescription: "Path of a local `.tar`, `.tar.gz` or `.tar.xz` file that holds the rootfs, " +
					"relative to the folder Terraform runs in. The file is hashed at plan time, so a changed file " +
					"shows as a replacement. It is uploaded over SFTP and unpacked once per SHA-256 on each device.",
				Optional: true,
			},
			"tarball_sha256": schema.StringAttribute{
				MarkdownDescription: "Expected SHA-256 of `tarball`, as `sha256sum` prints it. A tarball with another " +
					"hash fails the plan.",
				Optional: true,
				Validators: []validator.String{
					sha256Validator(),
					stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("tarball")),
				},
			},
			"sha256": schema.StringAttribute{
				MarkdownDescription: "SHA-256 of the tarball, computed at plan time. Null for busybox.",
				Computed:            true,
			},
		},
	}
}

func containerCommandAttribute() schema.ListAttribute {
	return schema.ListAttribute{
		MarkdownDescription: "Command that runs as the container's init, as an argument vector: no shell parses it " +
			"(use `[\"/bin/sh\", \"-c\", \"...\"]` for one). Unset runs a minimal init that waits for signals. " +
			"Changing it restarts a running container. The command becomes PID 1 of the container, to which the " +
			"kernel delivers only signals it handles: a command that does not handle SIGTERM (a shell script " +
			"without `trap ... TERM`, for example) is killed 10 seconds after every stop, and a recording of " +
			"its start waits as long at the end of each run.",
		ElementType: types.StringType,
		Optional:    true,
		Validators:  []validator.List{listvalidator.ValueStringsAre(argumentValidator())},
	}
}

func containerFilesAttribute() schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		MarkdownDescription: "Files placed into the rootfs before the container starts. Changing them updates the " +
			"files in place without a restart, except that adding or removing a file on a tarball rootfs restarts " +
			"the container. On a tarball rootfs each file replaces a regular file that the image has. Content of " +
			"all files together is limited to 32 MiB; put larger files into the rootfs tarball.",
		Optional:   true,
		Validators: []validator.List{uniqueFilePathsValidator{}},
		NestedObject: schema.NestedAttributeObject{
			Attributes: map[string]schema.Attribute{
				"path": schema.StringAttribute{
					MarkdownDescription: "Absolute path inside the container, for example `/etc/app.conf`. `..` " +
						"segments are rejected.",
					Required:   true,
					Validators: []validator.String{filePathValidator()},
				},
				"content": schema.StringAttribute{
					MarkdownDescription: "Content of the file. Set exactly one of `content` and `source`. The content " +
						"is stored in the Terraform state.",
					Optional: true,
					Validators: []validator.String{
						stringvalidator.ExactlyOneOf(path.MatchRelative().AtParent().AtName("source")),
					},
				},
				"source": schema.StringAttribute{
					MarkdownDescription: "Path of a local file to copy, read at plan and apply time. The state stores " +
						"only its SHA-256, so prefer `source` for secrets.",
					Optional: true,
				},
				"mode": schema.StringAttribute{
					MarkdownDescription: "Permission bits as an octal string. Defaults to `\"0644\"`. setuid, setgid and " +
						"sticky bits are rejected.",
					Optional:   true,
					Computed:   true,
					Default:    stringdefault.StaticString("0644"),
					Validators: []validator.String{fileModeValidator()},
				},
				"uid": idAttribute("Owner user ID inside the container. Defaults to `0`."),
				"gid": idAttribute("Owner group ID inside the container. Defaults to `0`."),
				"sha256": schema.StringAttribute{
					MarkdownDescription: "SHA-256 of the content, computed at plan time.",
					Computed:            true,
				},
			},
		},
	}
}

func containerHardeningAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"capabilities": schema.SetAttribute{
			MarkdownDescription: "Capabilities the container keeps; every other one is dropped. Defaults to none. " +
				"Names are case-insensitive, with or without the `CAP_` prefix, for example `net_bind_service`.",
			ElementType: types.StringType,
			Optional:    true,
			Computed:    true,
			Default:     setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
			Validators:  []validator.Set{capabilitiesValidator{}},
		},
		"no_new_privs": schema.BoolAttribute{
			MarkdownDescription: "Set no_new_privs, so no process in the container gains privileges through setuid " +
				"files or file capabilities. Defaults to `true`.",
			Optional: true,
			Computed: true,
			Default:  booldefault.StaticBool(true),
		},
		"read_only_rootfs": schema.BoolAttribute{
			MarkdownDescription: "Mount the rootfs read-only, so a compromised process cannot change the programs " +
				"and configuration that the next start runs; `/tmp` and `/run` stay writable in-memory file systems. " +
				"Defaults to `true`. `false` needs a busybox rootfs, because a tarball's image is shared by every " +
				"container that uses it and is always read-only.",
			Optional: true,
			Computed: true,
			Default:  booldefault.StaticBool(true),
		},
		"memory_limit": schema.StringAttribute{
			MarkdownDescription: "Memory limit, such as `\"64MiB\"`, `\"512M\"` or `\"1G\"`. `K`, `M`, `G`, `T` and " +
				"`KiB`, `MiB`, `GiB`, `TiB` are powers of 1024; `KB`, `MB`, `GB`, `TB` are powers of 1000. " +
				"At least `\"4MiB\"`; `\"unlimited\"` sets no limit. Defaults to `\"" + defaultMemoryLimit + "\"`. " +
				"A process that allocates past the limit is killed by the kernel's OOM killer.",
			Optional:   true,
			Computed:   true,
			Default:    stringdefault.StaticString(defaultMemoryLimit),
			Validators: []validator.String{memoryLimitValidator()},
		},
		"cpu_weight": schema.Int64Attribute{
			MarkdownDescription: "Relative CPU share against other containers, from 1 to 10000 (cgroup v2 " +
				"`cpu.weight`, converted to `cpu.shares` on cgroup v1). Defaults to `100`.",
			Optional:   true,
			Computed:   true,
			Default:    int64default.StaticInt64(defaultCPUWeight),
			Validators: []validator.Int64{int64validator.Between(1, 10000)},
		},
		"cpu_limit": schema.StringAttribute{
			MarkdownDescription: "Maximum CPUs the container may use, such as `\"0.5\"` or `\"2\"`, at least `\"0.01\"` " +
				"and with at most three decimals. It becomes a CFS quota per 100 ms period. Unset sets no limit.",
			Optional:   true,
			Validators: []validator.String{cpuLimitValidator()},
		},
		"pids_limit": schema.Int64Attribute{
			MarkdownDescription: "Maximum number of processes and threads. `0` sets no limit. Defaults to `128`.",
			Optional:            true,
			Computed:            true,
			Default:             int64default.StaticInt64(defaultPidsLimit),
			Validators:          []validator.Int64{int64validator.AtLeast(0)},
		},
		"idmap_size": schema.Int64Attribute{
			MarkdownDescription: "Number of host user and group IDs mapped into the container, starting at " +
				"`host_uid_start` and `host_gid_start`, from 1 to 1048576. `user`, `group` and file owners must " +
				"be below it. Defaults to `65536`.",
			Optional:   true,
			Computed:   true,
			Default:    int64default.StaticInt64(defaultIdmapSize),
			Validators: []validator.Int64{int64validator.Between(1, maxIdmapSize)},
		},
		"seccomp_profile": schema.StringAttribute{
			MarkdownDescription: "Path on the device of an LXC seccomp policy to load. Unset loads none.",
			Optional:            true,
			Validators:          []validator.String{devicePathValidator()},
		},
		"apparmor_profile": schema.StringAttribute{
			MarkdownDescription: "AppArmor profile that confines the container. Unset uses LXC's generated profile " +
				"where the device's kernel has AppArmor, and none where it does not.",
			Optional:   true,
			Validators: []validator.String{appArmorProfileValidator()},
		},
	}
}

func containerComputedAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"state": schema.StringAttribute{
			MarkdownDescription: "State of the container as LXC reports it: `RUNNING`, `STOPPED` or `FROZEN`.",
			Computed:            true,
		},
		"init_pid": schema.Int64Attribute{
			MarkdownDescription: "PID of the container's init on the device, `0` when stopped. It changes on restart.",
			Computed:            true,
		},
		"host_uid_start": schema.Int64Attribute{
			MarkdownDescription: "First host user ID of the container's range: user 0 inside is this user outside.",
			Computed:            true,
			PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
		},
		"host_gid_start": schema.Int64Attribute{
			MarkdownDescription: "First host group ID of the container's range.",
			Computed:            true,
			PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
		},
		"config_sha256": schema.StringAttribute{
			MarkdownDescription: "SHA-256 of the container's LXC configuration on the device. A configuration changed " +
				"outside Terraform shows as an update that writes it again.",
			Computed: true,
		},
		"rootfs_bytes": schema.Int64Attribute{
			MarkdownDescription: "Disk space the container adds on the device, shared images excluded, as of the " +
				"last refresh.",
			Computed:      true,
			PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
		},
		"image_sha256": schema.StringAttribute{
			MarkdownDescription: "SHA-256 of the image the container runs from, empty for busybox.",
			Computed:            true,
		},
	}
}

// idAttribute is a numeric user or group ID inside the container, 0 unless set.
func idAttribute(description string) schema.Int64Attribute {
	return schema.Int64Attribute{
		MarkdownDescription: description,
		Optional:            true,
		Computed:            true,
		Default:             int64default.StaticInt64(0),
		Validators:          []validator.Int64{int64validator.AtLeast(0)},
	}
}
