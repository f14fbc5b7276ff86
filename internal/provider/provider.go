// Package provider is the Terraform glue of terraform-provider-iotfleet: schemas, plans and
// diagnostics. Everything that touches a device lives in package device.
package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
)

var _ provider.Provider = &iotfleetProvider{}

// Environment variables that the provider configuration falls back to.
const (
	envPrivateKey           = "IOTFLEET_PRIVATE_KEY"
	envPrivateKeyFile       = "IOTFLEET_PRIVATE_KEY_FILE"
	envPrivateKeyPassphrase = "IOTFLEET_PRIVATE_KEY_PASSPHRASE"
	envUser                 = "IOTFLEET_USER"
	envKnownHostsFile       = "IOTFLEET_KNOWN_HOSTS_FILE"
	envConnectTimeout       = "IOTFLEET_CONNECT_TIMEOUT"
	envAgentSocket          = "SSH_AUTH_SOCK"
)

const (
	defaultConnectTimeout = 30 * time.Second
	defaultMaxSessions    = 10

	// idleTimeout closes a device connection that no resource has used for this long. Terraform
	// stops a provider process after each command, but in-process test servers live on, and each
	// open connection would hold an sshd session until then.
	idleTimeout = 5 * time.Second
)

type iotfleetProvider struct {
	version string
}

type providerModel struct {
	PrivateKey           types.String `tfsdk:"private_key"`
	PrivateKeyFile       types.String `tfsdk:"private_key_file"`
	PrivateKeyPassphrase types.String `tfsdk:"private_key_passphrase"`
	AgentSocket          types.String `tfsdk:"agent_socket"`
	User                 types.String `tfsdk:"user"`
	KnownHostsFile       types.String `tfsdk:"known_hosts_file"`
	ConnectTimeout       types.String `tfsdk:"connect_timeout"`
	MaxSessions          types.Int64  `tfsdk:"max_sessions"`
}

// providerData is the value that Configure passes to every resource.
type providerData struct {
	pool        *device.Pool
	defaultUser string
	version     string
}

// New returns a constructor for the provider, as providerserver.Serve expects it.
func New(version string) func() provider.Provider {
	return func() provider.Provider {
		return &iotfleetProvider{version: version}
	}
}

func (p *iotfleetProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "iotfleet"
	resp.Version = p.version
}

func (p *iotfleetProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Provisions and secures fleets of Linux IoT devices that run hardened LXC containers. " +
			"The provider reaches each device over SSH and drives a small helper that it installs there.\n\n" +
			"Credentials set here are used for every device and are never stored in state.",
		Attributes: map[string]schema.Attribute{
			"private_key": schema.StringAttribute{
				MarkdownDescription: "SSH private key in PEM or OpenSSH form. Falls back to `" + envPrivateKey + "`. " +
					"Conflicts with `private_key_file`.",
				Optional:  true,
				Sensitive: true,
				Validators: []validator.String{
					stringvalidator.ConflictsWith(path.MatchRoot("private_key_file")),
				},
			},
			"private_key_file": schema.StringAttribute{
				MarkdownDescription: "Path of an SSH private key file. Falls back to `" + envPrivateKeyFile + "`.",
				Optional:            true,
			},
			"private_key_passphrase": schema.StringAttribute{
				MarkdownDescription: "Passphrase of an encrypted private key. Falls back to `" + envPrivateKeyPassphrase + "`.",
				Optional:            true,
				Sensitive:           true,
			},
			"agent_socket": schema.StringAttribute{
				MarkdownDescription: "Path of an SSH agent socket whose keys are offered as well. Falls back to `" +
					envAgentSocket + "`; set to `\"\"` to use no agent.",
				Optional: true,
			},
			"user": schema.StringAttribute{
				MarkdownDescription: "User that devices without their own `user` log in as. Falls back to `" + envUser +
					"`, then `" + device.DefaultUser + "`.",
				Optional:   true,
				Validators: []validator.String{userValidator()},
			},
			"known_hosts_file": schema.StringAttribute{
				MarkdownDescription: "known_hosts file that verifies devices without a pinned `host_key`. Hashed entries and " +
					"`[host]:port` entries are understood. The file is only read. Falls back to `" + envKnownHostsFile +
					"`, then `~/.ssh/known_hosts`.",
				Optional: true,
			},
			"connect_timeout": schema.StringAttribute{
				MarkdownDescription: "Time allowed to reach a device, retries included, as a Go duration such as `30s`. " +
					"Falls back to `" + envConnectTimeout + "`, then `30s`.",
				Optional:   true,
				Validators: []validator.String{durationValidator()},
			},
			"max_sessions": schema.Int64Attribute{
				MarkdownDescription: "Maximum SSH sessions the provider opens at once on one device. Keep it at or below " +
					"the device sshd's `MaxSessions` (10 unless changed). Defaults to `10`.",
				Optional:   true,
				Validators: []validator.Int64{int64validator.Between(1, 100)},
			},
		},
	}
}

func (p *iotfleetProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var config providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	checkKnown(config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	creds, defaultUser, err := credentialsFrom(config)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Provider Configuration", err.Error())
		return
	}

	pool := device.NewPool(creds, idleTimeout)
	pool.SetLogger(newTransportLogger())
	data := &providerData{pool: pool, defaultUser: defaultUser, version: p.version}
	resp.ResourceData = data
	resp.DataSourceData = data
}

func (p *iotfleetProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewDeviceResource,
		NewContainerResource,
		NewNetworkResource,
		NewSeccompProfileResource,
		NewSeccompRecordingResource,
	}
}

func (p *iotfleetProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return nil
}

// checkKnown rejects settings that are known only after apply, such as a key file that another
// resource writes: falling back to the environment in their place would log in with other
// credentials than configured.
func checkKnown(config providerModel, diags *diag.Diagnostics) {
	values := map[string]attr.Value{
		"private_key":            config.PrivateKey,
		"private_key_file":       config.PrivateKeyFile,
		"private_key_passphrase": config.PrivateKeyPassphrase,
		"agent_socket":           config.AgentSocket,
		"user":                   config.User,
		"known_hosts_file":       config.KnownHostsFile,
		"connect_timeout":        config.ConnectTimeout,
		"max_sessions":           config.MaxSessions,
	}
	for name, value := range values {
		if value.IsUnknown() {
			diags.AddAttributeError(path.Root(name), "Unknown Provider Setting",
				fmt.Sprintf("The provider setting %s is known only after apply, but the provider needs it to plan. "+
					"Set it to a value known at plan time, or apply the resources it depends on first with -target.", name))
		}
	}
}

// stringOrEnv returns the configured value, else the environment variable, else fallback.
func stringOrEnv(value types.String, env, fallback string) string {
	if !value.IsNull() && !value.IsUnknown() {
		return value.ValueString()
	}
	if v, ok := os.LookupEnv(env); ok {
		return v
	}
	return fallback
}

func defaultKnownHostsFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ssh", "known_hosts")
}
