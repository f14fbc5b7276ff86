package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
)

func TestAddDeviceErrorInterrupted(t *testing.T) {
	var diags diag.Diagnostics
	target := device.Target{Host: "192.0.2.10", Port: 22, User: "root"}
	err := fmt.Errorf("run helper on device %s: %w", target, context.Canceled)

	addDeviceError(&diags, "apply", target, err)

	if len(diags) != 1 {
		t.Fatalf("got %d diagnostics, want 1: %v", len(diags), diags)
	}
	if got := diags[0].Summary(); got != "Device Operation Interrupted" {
		t.Errorf("summary = %q, want Device Operation Interrupted", got)
	}
	if detail := diags[0].Detail(); !strings.Contains(detail, "Run the same command again") {
		t.Errorf("detail %q does not say how to finish the change", detail)
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 syscalls", 1: "1 syscall", 2: "2 syscalls"} {
		if got := plural(n, "syscall"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}
