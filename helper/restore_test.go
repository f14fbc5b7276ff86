package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func TestRunNetworkRestoreUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer

	code := run([]string{"network-restore", "/var/lib/iotfleet"}, strings.NewReader(""), &stdout, &stderr)

	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "network-restore STATE_DIR LXC_PATH") {
		t.Errorf("stderr = %q, want the command's usage", stderr.String())
	}
}

func TestRunNetworkRestoreRejectedPath(t *testing.T) {
	var stdout, stderr bytes.Buffer

	code := run([]string{"network-restore", "relative/state", "/var/lib/lxc"}, strings.NewReader(""), &stdout, &stderr)

	if code != 1 {
		t.Errorf("exit code = %d, want 1 for a rejected request", code)
	}
	if !strings.Contains(stderr.String(), "state_dir") {
		t.Errorf("stderr = %q, want the reason", stderr.String())
	}
}

func TestRunNetworkRestoreNothingRecorded(t *testing.T) {
	var stdout, stderr bytes.Buffer
	stateDir := filepath.Join(t.TempDir(), "state")
	lxcPath := filepath.Join(t.TempDir(), "lxc")

	code := run([]string{"network-restore", stateDir, lxcPath}, strings.NewReader(""), &stdout, &stderr)

	if code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr: %s", code, stderr.String())
	}
	var response protocol.Response
	if err := json.Unmarshal(stdout.Bytes(), &response); err != nil || len(response.Results) != 1 {
		t.Fatalf("stdout is not one response with one result: %v\n%s", err, stdout.String())
	}
	var result protocol.NetworkRestoreResult
	if err := json.Unmarshal(response.Results[0].Data, &result); err != nil {
		t.Fatal(err)
	}
	if len(result.Networks) != 0 || len(result.Started) != 0 {
		t.Errorf("restore of an empty state folder = %+v, want nothing restored", result)
	}
}
