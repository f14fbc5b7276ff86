package provider

import (
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
)

// deviceAttribute returns the `device` attribute of the resources that live on a device: it takes
// the target object that iotfleet_device exports. A change of host, port, state_dir or lxc_path
// replaces the resource, because it then lives on another device or in another folder.
func deviceAttribute(description string) schema.SingleNestedAttribute {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	return schema.SingleNestedAttribute{
		MarkdownDescription: description,
		Required:            true,
		Attributes: map[string]schema.Attribute{
			"host": schema.StringAttribute{
				MarkdownDescription: targetDescriptions["host"],
				Required:            true,
				Validators:          []validator.String{hostValidator()},
				PlanModifiers:       replace,
			},
			"port": schema.Int64Attribute{
				MarkdownDescription: targetDescriptions["port"] + " Defaults to `22`.",
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(device.DefaultPort),
				Validators:          []validator.Int64{int64validator.Between(1, 65535)},
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplace()},
			},
			"user": schema.StringAttribute{
				MarkdownDescription: targetDescriptions["user"] + " Defaults to the provider's `user`.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.String{userValidator()},
			},
			"host_key": schema.StringAttribute{
				MarkdownDescription: targetDescriptions["host_key"] + " When unset, the key must be listed in the " +
					"provider's `known_hosts_file`.",
				Optional:   true,
				Validators: []validator.String{hostKeyValidator()},
			},
			"arch": schema.StringAttribute{
				MarkdownDescription: targetDescriptions["arch"],
				Optional:            true,
			},
			"state_dir": schema.StringAttribute{
				MarkdownDescription: targetDescriptions["state_dir"] + " Defaults to `" + device.DefaultStateDir + "`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(device.DefaultStateDir),
				Validators:          []validator.String{devicePathValidator()},
				PlanModifiers:       replace,
			},
			"lxc_path": schema.StringAttribute{
				MarkdownDescription: targetDescriptions["lxc_path"] + " Defaults to `" + device.DefaultLXCPath + "`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(device.DefaultLXCPath),
				Validators:          []validator.String{devicePathValidator()},
				PlanModifiers:       replace,
			},
		},
	}
}
