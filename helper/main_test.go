package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func TestRunVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer

	code := run([]string{"version"}, strings.NewReader(""), &stdout, &stderr)

	if code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	if want := "iotfleet-helper dev protocol 1\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"reboot"}, {"serve", "extra"}} {
		var stdout, stderr bytes.Buffer

		code := run(args, strings.NewReader(""), &stdout, &stderr)

		if code != 2 {
			t.Errorf("run(%q) exit code = %d, want 2", args, code)
		}
		if stdout.Len() != 0 {
			t.Errorf("run(%q) wrote %q to stdout, want nothing", args, stdout.String())
		}
		if !strings.Contains(stderr.String(), "usage: iotfleet-helper") {
			t.Errorf("run(%q) stderr = %q, want the usage", args, stderr.String())
		}
	}
}

func TestRunServe(t *testing.T) {
	request := protocol.Request{
		Version:  protocol.Version,
		StateDir: filepath.Join(t.TempDir(), "state"),
		LXCPath:  "/var/lib/lxc",
		Calls: []protocol.Call{
			{ID: 1, Op: protocol.OpHello},
			{ID: 2, Op: protocol.OpInventory},
			{ID: 3, Op: "reboot"},
		},
	}
	input, err := json.Marshal(request)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer

	code := run([]string{"serve"}, bytes.NewReader(input), &stdout, &stderr)

	if code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr: %s", code, stderr.String())
	}
	var response protocol.Response
	if err := json.Unmarshal(stdout.Bytes(), &response); err != nil {
		t.Fatalf("stdout is not one response: %v\n%s", err, stdout.String())
	}
	if len(response.Results) != 3 {
		t.Fatalf("got %d results, want 3", len(response.Results))
	}
	if got := string(response.Results[0].Data); got != `{"helper_version":"dev","protocol_version":1}` {
		t.Errorf("hello = %s", got)
	}
	if response.Results[1].Error != nil {
		t.Errorf("inventory failed: %v", response.Results[1].Error)
	}
	if got := response.Results[2].Error; got == nil || got.Code != protocol.CodeUnknownOp {
		t.Errorf("unknown op error = %v, want code %q", got, protocol.CodeUnknownOp)
	}
	// The failed call is logged to stderr, never mixed into the response stream.
	if !strings.Contains(stderr.String(), "reboot") {
		t.Errorf("stderr = %q, want a line about the failed call", stderr.String())
	}
}
