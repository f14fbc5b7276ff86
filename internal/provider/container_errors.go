package provider

import (
	"errors"
	"regexp"
	"slices"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// specFieldPaths maps the JSON fields of protocol.ContainerSpec, and the names the helper's
// messages use for them, to the attributes they come from.
var specFieldPaths = map[string]path.Path{
	"name":             path.Root("name"),
	"rootfs":           path.Root("rootfs"),
	"image_sha256":     path.Root("rootfs"),
	"command":          path.Root("command"),
	"environment":      path.Root("environment"),
	"working_dir":      path.Root("working_dir"),
	"user":             path.Root("user"),
	"group":            path.Root("group"),
	"files":            path.Root("files"),
	"capabilities":     path.Root("capabilities"),
	"capability":       path.Root("capabilities"),
	"memory_bytes":     path.Root("memory_limit"),
	"cpu_weight":       path.Root("cpu_weight"),
	"cpu_quota_us":     path.Root("cpu_limit"),
	"cpu_period_us":    path.Root("cpu_limit"),
	"pids":             path.Root("pids_limit"),
	"idmap_size":       path.Root("idmap_size"),
	"seccomp_profile":  path.Root("seccomp_profile"),
	"apparmor_profile": path.Root("apparmor_profile"),
	"read_only_rootfs": path.Root("read_only_rootfs"),
}

var (
	// helperPrefixPattern matches the container name that the helper puts before a message.
	helperPrefixPattern = regexp.MustCompile(`^container "[^"]*": `)

	// helperFilePattern finds the file that a message starts with: `file "/etc/x" ...`.
	helperFilePattern = regexp.MustCompile(`^file ("(?:[^"\\]|\\.)*")`)

	// helperFieldPattern finds the spec field that a message starts with, in the helper's
	// wording: "invalid seccomp_profile ...", "invalid limit pids ...", "limits.pids is ..." or
	// "command[0] is empty".
	helperFieldPattern = regexp.MustCompile(
		`^(?:invalid (?:limit )?)?(?:limits\.)?([a-z_0-9]+)(?:\[(\d+)\])?(?:$|[^a-z_0-9.\[])`)
)

// addContainerError reports a failed device operation with addDeviceError's wording. When the
// helper rejects a value of the spec as invalid and names its field, the error is attached to
// the attribute that the value came from. filePaths lists the paths of the files attribute in
// its order, to find the file a message names.
func addContainerError(diags *diag.Diagnostics, action string, target device.Target, err error, filePaths []string) {
	var reported diag.Diagnostics
	addDeviceError(&reported, action, target, err)

	var helperErr *protocol.Error
	attribute, found := path.Empty(), false
	if errors.As(err, &helperErr) && helperErr.Code == protocol.CodeInvalid {
		attribute, found = helperErrorPath(helperErr.Message, filePaths)
	}
	for _, d := range reported {
		if found && d.Severity() == diag.SeverityError {
			diags.AddAttributeError(attribute, d.Summary(), d.Detail())
			continue
		}
		diags.Append(d)
	}
}

// helperErrorPath returns the attribute that a helper's invalid-value message names.
func helperErrorPath(message string, filePaths []string) (path.Path, bool) {
	message = helperPrefixPattern.ReplaceAllString(message, "")
	if match := helperFilePattern.FindStringSubmatch(message); match != nil {
		name, err := strconv.Unquote(match[1])
		index := slices.Index(filePaths, name)
		if err != nil || index < 0 {
			return path.Root("files"), true
		}
		return path.Root("files").AtListIndex(index), true
	}

	match := helperFieldPattern.FindStringSubmatch(message)
	if match == nil {
		return path.Empty(), false
	}
	attribute, ok := specFieldPaths[match[1]]
	if !ok {
		return path.Empty(), false
	}
	if match[2] != "" && match[1] == "command" {
		if index, err := strconv.Atoi(match[2]); err == nil {
			attribute = attribute.AtListIndex(index)
		}
	}
	return attribute, true
}
