package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// transportSubsystem is the tflog subsystem of the SSH transport. TF_LOG_PROVIDER_IOTFLEET_SSH
// sets its level apart from the rest of the provider.
const transportSubsystem = "ssh"

// transportLogger sends the device package's logs to tflog under the ssh subsystem.
type transportLogger struct{}

func newTransportLogger() transportLogger { return transportLogger{} }

func (transportLogger) Debug(ctx context.Context, msg string, fields map[string]any) {
	ctx = tflog.NewSubsystem(ctx, transportSubsystem, tflog.WithLevelFromEnv("TF_LOG_PROVIDER_IOTFLEET_SSH"))
	tflog.SubsystemDebug(ctx, transportSubsystem, msg, fields)
}
