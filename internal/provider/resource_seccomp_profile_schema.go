package provider

import (
	"context"
	"fmt"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// seccompProfileModel is the state of an iotfleet_seccomp_profile.
type seccompProfileModel struct {
	ID                 types.String `tfsdk:"id"`
	Device             types.Object `tfsdk:"device"`
	Name               types.String `tfsdk:"name"`
	DefaultAction      types.String `tfsdk:"default_action"`
	Syscalls           types.Set    `tfsdk:"syscalls"`
	Rules              types.List   `tfsdk:"rules"`
	IncludeRuntimeBase types.Bool   `tfsdk:"include_runtime_base"`
	AllowCompatABIs    types.Bool   `tfsdk:"allow_compat_abis"`
	Recordings         types.List   `tfsdk:"recordings"`

	RuntimeBase types.Set    `tfsdk:"runtime_base"`
	Allowed     types.Set    `tfsdk:"allowed"`
	Policy      types.String `tfsdk:"policy"`
	SHA256      types.String `tfsdk:"sha256"`
	Path        types.String `tfsdk:"path"`
}

// seccompRuleModel is one element of rules.
type seccompRuleModel struct {
	Syscall types.String `tfsdk:"syscall"`
	Action  types.String `tfsdk:"action"`
	Args    types.List   `tfsdk:"args"`
}

// seccompArgModel is one element of a rule's args. Value and mask are numbers because syscall
// arguments are unsigned 64-bit values, which an Int64 cannot hold.
type seccompArgModel struct {
	Index types.Int64  `tfsdk:"index"`
	Op    types.String `tfsdk:"op"`
	Value types.Number `tfsdk:"value"`
	Mask  types.Number `tfsdk:"mask"`
}

var seccompArgAttrTypes = map[string]attr.Type{
	"index": types.Int64Type,
	"op":    types.StringType,
	"value": types.NumberType,
	"mask":  types.NumberType,
}

var seccompRuleAttrTypes = map[string]attr.Type{
	"syscall": types.StringType,
	"action":  types.StringType,
	"args":    types.ListType{ElemType: types.ObjectType{AttrTypes: seccompArgAttrTypes}},
}

// seccompDefaultActionText is default_action's default: ENOSYS, because glibc falls back to an
// older syscall after ENOSYS (clone for clone3, for example) but fails after EPERM.
const seccompDefaultActionText = "errno 38"

var (
	seccompDenyActionPattern = regexp.MustCompile(`^(errno( [0-9]{1,4})?|kill|trap)$`)
	seccompRuleActionPattern = regexp.MustCompile(`^(allow|errno( [0-9]{1,4})?|kill|trap)$`)
	seccompSyscallPattern    = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

func (r *seccompProfileResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A default-deny seccomp policy on a device, for containers to load through their " +
			"`seccomp_profile`.\n\n" +
			"The policy is rendered and checked at plan time when the device's architecture is known, so the plan " +
			"shows its text, SHA-256 and path. The file is named after its SHA-256, so every change of the policy " +
			"changes `path`, and each container that uses it shows the change (and a restart) in the same plan. " +
			"An older version stays on the device while a container's configuration still names it.\n\n" +
			"Every profile also allows the `runtime_base`: the syscalls that LXC makes after it loads the filter and " +
			"that the container's init makes, as measured on real containers. Without them a container cannot start.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The profile as `user@host:port/name`, also its import ID.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"device": seccompProfileDeviceAttribute(),
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the profile on the device: 1 to 63 characters of `a-z`, `0-9` and `-`, " +
					"starting and ending with a letter or digit. Changing it replaces the profile.",
				Required: true,
				Validators: []validator.String{stringvalidator.RegexMatches(protocol.ProfileNamePattern,
					"must be 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"default_action": schema.StringAttribute{
				MarkdownDescription: "What every syscall that is not allowed gets: `errno` (ENOSYS), `errno N` with N " +
					"from 1 to 4094, `kill` (kills the calling thread) or `trap` (sends SIGSYS). Defaults to `" +
					seccompDefaultActionText + "`: glibc falls back to an older syscall after ENOSYS but fails after EPERM.",
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(seccompDefaultActionText),
				Validators: []validator.String{
					stringvalidator.RegexMatches(seccompDenyActionPattern, "must be errno, errno N, kill or trap"),
				},
			},
			"syscalls": schema.SetAttribute{
				MarkdownDescription: "Syscalls allowed with any arguments, by their kernel names (`read`, `openat`). " +
					"Names are checked against the device architecture's syscall table, with a suggestion for a misspelled one.",
				ElementType: types.StringType,
				Optional:    true,
				Computed:    true,
				Default:     setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				Validators:  []validator.Set{seccompSyscallNamesValidator{}},
			},
			"rules": seccompRulesAttribute(),
			"include_runtime_base": seccompBoolAttribute("Whether the policy also allows `runtime_base`. Defaults to `true`. "+
				"Without it, LXC cannot start or attach to a container that loads the policy unless `syscalls` lists those calls.", true),
			"allow_compat_abis": seccompBoolAttribute("Whether 32-bit callers may use the compat ABIs of the device's "+
				"architecture (x86 and x32 on x86_64, arm on arm64), which also allows compat-only names such as `mmap2`. "+
				"Defaults to `false`, which the policy alone cannot enforce: LXC adds each allowed name to the compat ABIs too. "+
				"The profile's metadata on the device therefore tells a container that uses it to load a second filter that "+
				"denies every compat-ABI syscall.", false),
			"recordings": schema.ListAttribute{
				MarkdownDescription: "Recorded syscalls to allow with any arguments, each the `syscalls` of an " +
					"`iotfleet_seccomp_recording`, such as `[iotfleet_seccomp_recording.web.syscalls]`. The names recorded " +
					"for the device's native ABI are allowed, and those of its compat ABIs only when `allow_compat_abis` is " +
					"true. A name that has an entry in `rules` keeps its rule. A recording that is replaced makes the " +
					"policy and its path unknown until apply.",
				ElementType: seccompRecordingSyscallsType,
				Optional:    true,
			},
			"allowed": schema.SetAttribute{
				MarkdownDescription: "Every syscall that the policy allows with any arguments: `syscalls`, the names " +
					"from `recordings` and `runtime_base`. A plan shows each name that a change adds or removes.",
				ElementType: types.StringType,
				Computed:    true,
			},
			"runtime_base": schema.SetAttribute{
				MarkdownDescription: "The syscalls that the policy allows for LXC and the container's init, mapped to the " +
					"device's architecture; empty when `include_runtime_base` is false.",
				ElementType: types.StringType,
				Computed:    true,
			},
			"policy": schema.StringAttribute{
				MarkdownDescription: "The LXC seccomp policy text written to the device.",
				Computed:            true,
			},
			"sha256": schema.StringAttribute{
				MarkdownDescription: "SHA-256 of `policy`. A plan shows a change when the file on the device is missing or was altered.",
				Computed:            true,
			},
			"path": schema.StringAttribute{
				MarkdownDescription: "Path of the policy file on the device, `<state_dir>/profiles/<name>/<sha256>.policy`, " +
					"for a container's `seccomp_profile`.",
				Computed: true,
			},
		},
	}
}

func seccompBoolAttribute(description string, value bool) schema.BoolAttribute {
	return schema.BoolAttribute{
		MarkdownDescription: description,
		Optional:            true,
		Computed:            true,
		Default:             booldefault.StaticBool(value),
	}
}

func seccompRulesAttribute() schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		MarkdownDescription: "Syscalls with an action of their own, optionally only when their arguments match. " +
			"A call whose arguments do not match gets `default_action`.",
		Optional: true,
		NestedObject: schema.NestedAttributeObject{
			Attributes: map[string]schema.Attribute{
				"syscall": schema.StringAttribute{
					MarkdownDescription: "Kernel name of the syscall.",
					Required:            true,
				},
				"action": schema.StringAttribute{
					MarkdownDescription: "`allow`, `errno`, `errno N` (1 to 4094), `kill` or `trap`; it must differ " +
						"from `default_action`.",
					Required: true,
					Validators: []validator.String{
						stringvalidator.RegexMatches(seccompRuleActionPattern, "must be allow, errno, errno N, kill or trap"),
					},
				},
				"args": schema.ListNestedAttribute{
					MarkdownDescription: "Argument filters, at most one per argument; the rule applies when all match.",
					Optional:            true,
					NestedObject: schema.NestedAttributeObject{
						Attributes: map[string]schema.Attribute{
							"index": schema.Int64Attribute{
								MarkdownDescription: "Argument position, from 0 to 5.",
								Required:            true,
								Validators:          []validator.Int64{int64validator.Between(0, 5)},
							},
							"op": schema.StringAttribute{
								MarkdownDescription: "Comparison: `eq`, `ne`, `lt`, `le`, `gt`, `ge` or `masked_eq`.",
								Required:            true,
								Validators:          []validator.String{stringvalidator.OneOf("eq", "ne", "lt", "le", "gt", "ge", "masked_eq")},
							},
							"value": schema.NumberAttribute{
								MarkdownDescription: "Value to compare the argument with, from 0 to 2^64-1.",
								Required:            true,
							},
							"mask": schema.NumberAttribute{
								MarkdownDescription: "Bits of the argument that `masked_eq` compares; only for `masked_eq`.",
								Optional:            true,
							},
						},
					},
				},
			},
		},
	}
}

func seccompProfileDeviceAttribute() schema.SingleNestedAttribute {
	attribute := deviceAttribute("The device to write the profile to, usually `iotfleet_device.<name>.target`. Changing its " +
		"host, port, `state_dir` or `lxc_path` replaces the profile; `user`, `host_key` and `arch` change in place.")
	attribute.Attributes["arch"] = schema.StringAttribute{
		MarkdownDescription: targetDescriptions["arch"] + " When it is unknown at plan time, the policy is " +
			"rendered and checked at apply time, before anything is written to the device.",
		Optional: true,
	}
	return attribute
}

// seccompSyscallNamesValidator rejects set elements that cannot be syscall names at all. Whether
// a name exists is checked in ModifyPlan, against the device architecture's table.
type seccompSyscallNamesValidator struct{}

func (seccompSyscallNamesValidator) Description(context.Context) string {
	return "each value must be a syscall name of lowercase letters, digits and '_'"
}

func (v seccompSyscallNamesValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (seccompSyscallNamesValidator) ValidateSet(ctx context.Context, req validator.SetRequest, resp *validator.SetResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for _, element := range req.ConfigValue.Elements() {
		name, ok := element.(types.String)
		if !ok || name.IsUnknown() || name.IsNull() {
			continue
		}
		if !seccompSyscallPattern.MatchString(name.ValueString()) {
			resp.Diagnostics.AddAttributeError(req.Path.AtSetValue(name), "Invalid Syscall Name",
				fmt.Sprintf("%q is not a syscall name: use the kernel's name, made of lowercase letters, digits "+
					"and '_', such as \"openat\".", name.ValueString()))
		}
	}
}
