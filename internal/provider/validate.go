package provider

import (
	"context"
	"fmt"
	"net"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
)

var (
	// userPattern accepts the login names that useradd accepts by default on Debian.
	userPattern = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)

	// devicePathPattern is deliberately narrow: device paths end up on the helper's command line.
	devicePathPattern = regexp.MustCompile(`^/[A-Za-z0-9._/-]*$`)

	hostnameLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

func validateUser(user string) error {
	if !userPattern.MatchString(user) {
		return fmt.Errorf("invalid user %q: use a login name of lowercase letters, digits, '_', '-' and '.', starting with a letter or '_', at most 32 characters", user)
	}
	return nil
}

// validateHost accepts a DNS name or an IPv4 or IPv6 address without brackets or port.
func validateHost(host string) error {
	if ip := net.ParseIP(host); ip != nil {
		return nil
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		return fmt.Errorf("invalid host %q: remove the port and set port = %s separately, so host = %q", host, p, h)
	}
	if strings.HasPrefix(host, "[") || strings.Contains(host, ":") {
		return fmt.Errorf("invalid host %q: give an IPv6 address without brackets and without a port (set port separately), for example \"2001:db8::10\"", host)
	}
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("invalid host %q: use a DNS name of at most 253 characters or an IP address", host)
	}
	for _, label := range strings.Split(name, ".") {
		if !hostnameLabel.MatchString(label) {
			return fmt.Errorf("invalid host %q: label %q is not a valid DNS label (letters, digits and '-', not at either end, at most 63 characters)", host, label)
		}
	}
	return nil
}

// validateDevicePath accepts a clean absolute path made of a conservative set of characters.
func validateDevicePath(p string) error {
	if !devicePathPattern.MatchString(p) {
		return fmt.Errorf("invalid path %q: use an absolute path made of letters, digits, '.', '_', '-' and '/'", p)
	}
	for _, segment := range strings.Split(p, "/") {
		if segment == ".." {
			return fmt.Errorf("invalid path %q: '..' segments are not allowed; write the folder's absolute path", p)
		}
	}
	if path.Clean(p) != p || p == "/" {
		return fmt.Errorf("invalid path %q: use a clean absolute path below / with no trailing slash, '//' or '.' segments, for example %q", p, path.Clean(p))
	}
	return nil
}

// systemFolders are folders that the device's own system owns. The provider creates files in
// state_dir and removes the folder on destroy, so state_dir must be a folder of its own.
var systemFolders = map[string]bool{
	"/bin": true, "/boot": true, "/dev": true, "/etc": true, "/home": true, "/lib": true,
	"/lib64": true, "/media": true, "/mnt": true, "/opt": true, "/proc": true, "/root": true,
	"/run": true, "/sbin": true, "/srv": true, "/sys": true, "/tmp": true, "/usr": true,
	"/usr/local": true, "/var": true, "/var/cache": true, "/var/lib": true, "/var/log": true,
}

// validateDeviceFolders checks that state_dir is a folder of its own, apart from lxc_path.
func validateDeviceFolders(stateDir, lxcPath string) error {
	if systemFolders[stateDir] {
		return fmt.Errorf("invalid state_dir %q: it is a system folder; use a folder of its own, such as %q", stateDir, path.Join(stateDir, "iotfleet"))
	}
	if within(stateDir, lxcPath) || within(lxcPath, stateDir) {
		return fmt.Errorf("invalid state_dir %q: it overlaps lxc_path %q; keep the two folders apart, for example state_dir = %q and lxc_path = %q",
			stateDir, lxcPath, "/var/lib/iotfleet", "/var/lib/lxc")
	}
	return nil
}

// within reports whether p is dir or lies below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

func validateHostKey(key string) error {
	if _, err := device.NormalizeHostKey(key); err != nil {
		return fmt.Errorf("%w; set one line in the form that ssh-keyscan prints or that a .pub file contains, for example \"ssh-ed25519 AAAAC3Nza...\"", err)
	}
	return nil
}

func validateDuration(s string) error {
	if d, err := time.ParseDuration(s); err != nil || d <= 0 {
		return fmt.Errorf("invalid duration %q: use a positive Go duration such as \"30s\" or \"2m\"", s)
	}
	return nil
}

// funcValidator adapts a plain check into a plan-time string validator that attaches its error
// to the attribute.
type funcValidator struct {
	description string
	check       func(string) error
}

func (v funcValidator) Description(context.Context) string         { return v.description }
func (v funcValidator) MarkdownDescription(context.Context) string { return v.description }

func (v funcValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Attribute Value", err.Error())
	}
}

func userValidator() validator.String {
	return funcValidator{"value must be a valid login name", validateUser}
}

func hostValidator() validator.String {
	return funcValidator{"value must be a DNS name or an IP address", validateHost}
}

func devicePathValidator() validator.String {
	return funcValidator{"value must be a clean absolute path", validateDevicePath}
}

func hostKeyValidator() validator.String {
	return funcValidator{"value must be an SSH public key in authorized_keys or ssh-keyscan form", validateHostKey}
}

func durationValidator() validator.String {
	return funcValidator{"value must be a positive Go duration", validateDuration}
}
