package provider

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// addDeviceError reports a failed device operation with one wording for each kind of failure.
// action is the verb the user ran: "read", "apply" or "destroy".
func addDeviceError(diags *diag.Diagnostics, action string, target device.Target, err error) {
	var hostKeyErr *device.HostKeyError
	var helperErr *protocol.Error
	switch {
	case errors.As(err, &hostKeyErr):
		diags.AddError("Host Key Verification Failed", err.Error())
	case errors.As(err, &helperErr):
		diags.AddError("Helper Error",
			fmt.Sprintf("The helper on %s could not %s: %s.", target, action, helperMessage(err)))
	case errors.Is(err, fs.ErrNotExist):
		diags.AddError("Helper Missing",
			fmt.Sprintf("The helper is missing on %s (%v). Run `terraform apply` to install it again.", target, err))
	default:
		diags.AddError("Device Operation Failed",
			fmt.Sprintf("Could not %s %s: %v.\n\nCheck that the device is reachable over SSH at %s with the "+
				"provider's credentials, and that user %q has root rights there.", action, target, err, target.Address(), target.User))
	}
}

// helperMessage returns the message of a helper error without its code prefix.
func helperMessage(err error) string {
	var helperErr *protocol.Error
	if errors.As(err, &helperErr) {
		return helperErr.Message
	}
	return err.Error()
}
