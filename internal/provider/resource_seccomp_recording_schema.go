package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// seccompRecordingModel is the state of an iotfleet_seccomp_recording.
type seccompRecordingModel struct {
	ID              types.String `tfsdk:"id"`
	Device          types.Object `tfsdk:"device"`
	Name            types.String `tfsdk:"name"`
	Container       types.String `tfsdk:"container"`
	DurationSeconds types.Int64  `tfsdk:"duration_seconds"`
	Command         types.List   `tfsdk:"command"`
	Runs            types.Int64  `tfsdk:"runs"`
	TimeoutSeconds  types.Int64  `tfsdk:"timeout_seconds"`
	Triggers        types.Map    `tfsdk:"triggers"`
	Mechanism       types.String `tfsdk:"mechanism"`

	Syscalls   types.Map    `tfsdk:"syscalls"`
	Counts     types.Map    `tfsdk:"counts"`
	Coverage   types.Map    `tfsdk:"coverage"`
	Kernel     types.String `tfsdk:"kernel"`
	StartedAt  types.String `tfsdk:"started_at"`
	FinishedAt types.String `tfsdk:"finished_at"`
	Path       types.String `tfsdk:"path"`
	SHA256     types.String `tfsdk:"sha256"`
}

// seccompRecordingSyscallsType is the type of a recording's syscalls: ABI to names.
var seccompRecordingSyscallsType = types.MapType{ElemType: types.SetType{ElemType: types.StringType}}

func (r *seccompRecordingResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replaceString := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	replaceInt := []planmodifier.Int64{int64planmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The syscalls that a container's workload makes, recorded on the device with eBPF or " +
			"ptrace (see `mechanism`), " +
			"for `recordings` of an `iotfleet_seccomp_profile`.\n\n" +
			"Set `duration_seconds` to record the container's own start, which needs the container stopped: set " +
			"`running = false` on the `iotfleet_container` while you record. Set `command` to record a command " +
			"attached to the running container instead. Each run records every process of the workload, and the " +
			"result is the union of `runs` runs. Changing any argument, or any value in `triggers`, records again.\n\n" +
			"A container cannot load a profile built from its own recording, because the two would depend on each " +
			"other: record a twin of the container that loads no profile.",
		Attributes: seccompRecordingAttributes(replaceString, replaceInt),
	}
}

func seccompRecordingAttributes(replaceString []planmodifier.String, replaceInt []planmodifier.Int64) map[string]schema.Attribute {
	attributes := map[string]schema.Attribute{
		"id": schema.StringAttribute{
			MarkdownDescription: "The recording as `user@host:port/name`, also its import ID.",
			Computed:            true,
			PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		},
		"device": seccompRecordingDeviceAttribute(),
		"name": schema.StringAttribute{
			MarkdownDescription: "Name of the recording on the device: 1 to 63 characters of `a-z`, `0-9` and `-`, " +
				"starting and ending with a letter or digit.",
			Required: true,
			Validators: []validator.String{stringvalidator.RegexMatches(protocol.RecordingNamePattern,
				"must be 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit")},
			PlanModifiers: replaceString,
		},
		"container": schema.StringAttribute{
			MarkdownDescription: "Name of the container on the device whose workload is recorded, usually " +
				"`iotfleet_container.<name>.name`.",
			Required:      true,
			PlanModifiers: replaceString,
		},
		"duration_seconds": schema.Int64Attribute{
			MarkdownDescription: "Records the container's start: each run starts the stopped container, records it " +
				"for this many seconds and stops it. The container must be stopped (`running = false`).",
			Optional:      true,
			Validators:    []validator.Int64{int64validator.Between(1, protocol.MaxRecordingSeconds)},
			PlanModifiers: replaceInt,
		},
		"command": schema.ListAttribute{
			MarkdownDescription: "Records a command: each run attaches this argv to the running container and " +
				"records it until it exits, as `[\"/bin/sh\", \"-c\", \"...\"]` for a shell command line.",
			ElementType:   types.StringType,
			Optional:      true,
			Validators:    []validator.List{listvalidator.SizeAtLeast(1)},
			PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()},
		},
		"runs": schema.Int64Attribute{
			MarkdownDescription: "How many times the workload runs; the result is the union of all runs. Calls that " +
				"only some runs make, such as those of a language runtime's timers, need several. From 1 to 20; " +
				"defaults to `1`.",
			Optional:      true,
			Computed:      true,
			Default:       int64default.StaticInt64(1),
			Validators:    []validator.Int64{int64validator.Between(1, protocol.MaxRecordingRuns)},
			PlanModifiers: replaceInt,
		},
		"timeout_seconds": schema.Int64Attribute{
			MarkdownDescription: "Bound of one run in seconds, the stop of a started container included; the helper " +
				"kills a workload still running then. Defaults to `duration_seconds` plus 30 for a start and to 300 " +
				"for a command. Recording slows a workload, ptrace far more than eBPF, so allow for it.",
			Optional:      true,
			Validators:    []validator.Int64{int64validator.Between(1, protocol.MaxRecordingSeconds+30)},
			PlanModifiers: replaceInt,
		},
		"mechanism": seccompRecordingMechanismAttribute(),
		"triggers": schema.MapAttribute{
			MarkdownDescription: "Arbitrary values; any change records again, for example the SHA-256 of the " +
				"workload's binary.",
			ElementType:   types.StringType,
			Optional:      true,
			PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
		},
	}
	for name, attribute := range seccompRecordingResultAttributes() {
		attributes[name] = attribute
	}
	return attributes
}

func seccompRecordingResultAttributes() map[string]schema.Attribute {
	keepMap := []planmodifier.Map{mapplanmodifier.UseStateForUnknown()}
	return map[string]schema.Attribute{
		"syscalls": schema.MapAttribute{
			MarkdownDescription: "The recorded syscall names for each ABI that the workload used, such as " +
				"`{ x86_64 = [...], x86 = [...] }`, for a profile's `recordings`.",
			ElementType:   types.SetType{ElemType: types.StringType},
			Computed:      true,
			PlanModifiers: keepMap,
		},
		"counts": schema.MapAttribute{
			MarkdownDescription: "How often the workload made each syscall over all runs, keyed by `abi:name`.",
			ElementType:         types.Int64Type,
			Computed:            true,
			PlanModifiers:       keepMap,
		},
		"coverage": schema.MapAttribute{
			MarkdownDescription: "How many runs made each syscall, keyed by `abi:name`. A count below `runs` marks " +
				"a call that some runs skip, which a profile from fewer runs could miss.",
			ElementType:   types.Int64Type,
			Computed:      true,
			PlanModifiers: keepMap,
		},
		"kernel":      seccompRecordingResultString("Kernel release of the device during the recording (`uname -r`)."),
		"started_at":  seccompRecordingResultString("When the first run started, in RFC 3339 form."),
		"finished_at": seccompRecordingResultString("When the last run finished, in RFC 3339 form."),
		"path": seccompRecordingResultString("Path of the result file on the device, " +
			"`<state_dir>/recordings/<name>/result.json`."),
		"sha256": seccompRecordingResultString("SHA-256 of the result file on the device. A refresh that finds " +
			"another result reads it into the state, so profiles built from it show the change."),
	}
}

func seccompRecordingResultString(description string) schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: description,
		Computed:            true,
		PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
}

// seccompRecordingDeviceAttribute is the profile's device attribute with descriptions for a
// recording, so both accept the same target object.
func seccompRecordingDeviceAttribute() schema.SingleNestedAttribute {
	attribute := seccompProfileDeviceAttribute()
	attribute.MarkdownDescription = "The device that runs the container, usually `iotfleet_device.<name>.target`. " +
		"Changing its host, port, `state_dir` or `lxc_path` records again; `user`, `host_key` and `arch` change in place."
	attribute.Attributes["arch"] = schema.StringAttribute{
		MarkdownDescription: targetDescriptions["arch"],
		Optional:            true,
	}
	return attribute
}

func (r *seccompRecordingResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("duration_seconds"), path.MatchRoot("command")),
	}
}
