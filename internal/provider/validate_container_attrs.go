package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func containerNameValidator() validator.String {
	return funcValidator{"value must be 1 to 63 characters of a-z, 0-9 and '-'", validateContainerName}
}

func memoryLimitValidator() validator.String {
	return funcValidator{"value must be a memory size such as \"64MiB\" or \"1G\", or \"unlimited\"",
		func(s string) error { _, err := parseMemoryLimit(s); return err }}
}

func cpuLimitValidator() validator.String {
	return funcValidator{"value must be a number of CPUs from 0.01, such as \"0.5\"",
		func(s string) error { _, _, err := parseCPULimit(s); return err }}
}

func fileModeValidator() validator.String {
	return funcValidator{"value must be an octal permission such as \"0644\"",
		func(s string) error { _, err := parseFileMode(s); return err }}
}

func filePathValidator() validator.String {
	return funcValidator{"value must be a clean absolute path inside the container", validateFilePath}
}

func containerPathValidator() validator.String {
	return funcValidator{"value must be a clean absolute path inside the container", validateContainerPath}
}

func envNameValidator() validator.String {
	return funcValidator{"value must be an environment variable name", validateEnvName}
}

func argumentValidator() validator.String {
	return funcValidator{"value must not contain a NUL byte", validateArgument}
}

func sha256Validator() validator.String {
	return funcValidator{"value must be a hex-encoded SHA-256", validateSHA256}
}

func appArmorProfileValidator() validator.String {
	return funcValidator{"value must be an AppArmor profile name", validateAppArmorProfile}
}

// capabilitiesValidator checks every capability name and rejects two spellings of the same one.
type capabilitiesValidator struct{}

func (capabilitiesValidator) Description(context.Context) string {
	return "values must be Linux capability names, each listed once"
}

func (v capabilitiesValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (capabilitiesValidator) ValidateSet(_ context.Context, req validator.SetRequest, resp *validator.SetResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	seen := map[string]string{}
	for _, element := range req.ConfigValue.Elements() {
		name, ok := element.(types.String)
		if !ok || name.IsUnknown() || name.IsNull() {
			continue
		}
		normalized, err := normalizeCapability(name.ValueString())
		if err != nil {
			resp.Diagnostics.AddAttributeError(req.Path.AtSetValue(element), "Unknown Capability", err.Error())
			continue
		}
		if first, duplicate := seen[normalized]; duplicate {
			resp.Diagnostics.AddAttributeError(req.Path.AtSetValue(element), "Duplicate Capability",
				fmt.Sprintf("%q and %q name the same capability %q; list it once.", first, name.ValueString(), normalized))
			continue
		}
		seen[normalized] = name.ValueString()
	}
}

// uniqueFilePathsValidator rejects two files with the same path.
type uniqueFilePathsValidator struct{}

func (uniqueFilePathsValidator) Description(context.Context) string {
	return "each file must have its own path"
}

func (v uniqueFilePathsValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (uniqueFilePathsValidator) ValidateList(_ context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	seen := map[string]int{}
	for i, element := range req.ConfigValue.Elements() {
		object, ok := element.(types.Object)
		if !ok || object.IsNull() || object.IsUnknown() {
			continue
		}
		p, ok := object.Attributes()["path"].(types.String)
		if !ok || p.IsNull() || p.IsUnknown() {
			continue
		}
		if first, duplicate := seen[p.ValueString()]; duplicate {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i).AtName("path"), "Duplicate File Path",
				fmt.Sprintf("Files %d and %d both have the path %q; give each file its own path.", first, i, p.ValueString()))
			continue
		}
		seen[p.ValueString()] = i
	}
}
