package provider

import (
	"context"
	"errors"
	"fmt"

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
	case errors.Is(err, device.ErrHelperMissing):
		diags.AddError("Helper Missing",
			fmt.Sprintf("The helper is missing on %s or cannot run: %v.\n\nRun `terraform apply` on the device "+
				"resource to install it again.", target, err))
	case errors.Is(err, context.Canceled):
		diags.AddError("Device Operation Interrupted",
			fmt.Sprintf("Terraform was interrupted while it tried to %s %s, so the operation was canceled on "+
				"the device: %v.\n\nThe state keeps what was there before it. Run the same command again to "+
				"finish the change.", action, target, err))
	case errors.Is(err, device.ErrDial):
		diags.AddError("Device Unreachable",
			fmt.Sprintf("Could not %s %s: %v.\n\nCheck that the device is up and that its SSH server listens on %s. "+
				"If the device is gone for good, remove it from state with `terraform state rm` to stop managing it.",
				action, target, err, target.Address()))
	default:
		diags.AddError("Device Operation Failed", fmt.Sprintf("Could not %s %s: %v.", action, target, err))
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

// plural returns "1 noun" or "N nouns".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
