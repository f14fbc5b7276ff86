package provider

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

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
	"resolv_conf":      path.Root("resolv_conf"),
	"networks":         path.Root("network"),
}

var (
	// helperPrefixPattern matches the container name that the helper puts before a message.
	helperPrefixPattern = regexp.MustCompile(`^container "[^"]*": `)

	// helperFilePattern finds the file that a message starts with: `file "/etc/x" ...`.
	helperFilePattern = regexp.MustCompile(`^file ("(?:[^"\\]|\\.)*")`)

	// nicErrorPattern matches a message about one NIC, which network.Attach prefixes with
	// "networks[INDEX]: " whatever its code: an address may also be taken (CodeConflict) or a
	// network missing (CodeNotFound).
	nicErrorPattern = regexp.MustCompile(`^(?:container "[^"]*": )?networks\[\d+\]: `)

	// helperFieldPattern finds the spec field that a message starts with, in the helper's
	// wording: "invalid seccomp_profile ...", "invalid limit pids ...", "limits.pids is ..." or
	// "command[0] is empty".
	helperFieldPattern = regexp.MustCompile(
		`^(?:invalid (?:limit )?)?(?:limits\.)?([a-z_0-9]+)(?:\[(\d+)\])?(?:$|[^a-z_0-9.\[])`)
)

// addContainerError reports a failed device operation with addDeviceError's wording. When the
// helper rejects a value of the spec and names its field, the error is attached to the
// attribute that the value came from. filePaths lists the paths of the files attribute in its
// order, to find the file a message names.
func addContainerError(diags *diag.Diagnostics, action string, target device.Target, err error, filePaths []string) {
	var helperErr *protocol.Error
	attribute, found := path.Empty(), false
	isHelperErr := errors.As(err, &helperErr)
	if isHelperErr && (helperErr.Code == protocol.CodeInvalid || nicErrorPattern.MatchString(helperErr.Message)) {
		attribute, found = helperErrorPath(helperErr.Message, filePaths)
	}
	// The attribute path names the network block, which the spec's field name would not.
	if found && nicErrorPattern.MatchString(helperErr.Message) {
		err = protocol.Errorf(helperErr.Code, "%s", nicErrorPattern.ReplaceAllString(helperErr.Message, ""))
	}
	var reported diag.Diagnostics
	addDeviceError(&reported, action, target, err)
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
	if match[2] != "" && (match[1] == "command" || match[1] == "networks") {
		if index, err := strconv.Atoi(match[2]); err == nil {
			attribute = attribute.AtListIndex(index)
		}
	}
	if match[2] != "" && match[1] == "networks" {
		attribute = attribute.AtName(nicAttribute(message))
	}
	return attribute, true
}

// nicAttribute returns the attribute of a network block that a message about a NIC is about:
// its address when the message names one, otherwise the network.
func nicAttribute(message string) string {
	if strings.Contains(message, "ipv4_address") {
		return "ipv4_address"
	}
	return "name"
}
