package ops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// callProfiles sends one request to a server with the device and profile operations.
func callProfiles(t *testing.T, stateDir string, calls ...protocol.Call) []protocol.Result {
	t.Helper()
	registry := server.NewRegistry()
	Device{Facts: fakeHost()}.Register(registry)
	Profile{}.Register(registry)
	srv := &server.Server{
		Registry: registry, HelperVersion: "v0.1.0", LockTimeout: 200 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	input, err := json.Marshal(protocol.Request{
		Version: protocol.Version, StateDir: stateDir, LXCPath: t.TempDir(), Calls: calls,
	})
	if err != nil {
		t.Fatal(err)
	}
	response := srv.Handle(context.Background(), strings.NewReader(string(input)))
	if response.Error != nil || len(response.Results) != len(calls) {
		t.Fatalf("request failed: %v, %d results for %d calls", response.Error, len(response.Results), len(calls))
	}
	return response.Results
}

func profileCall(t *testing.T, id int, op string, params any) protocol.Call {
	t.Helper()
	data, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.Call{ID: id, Op: op, Params: data}
}

func testPutParams(t *testing.T) protocol.ProfilePutParams {
	t.Helper()
	metadata := protocol.ProfileMetadata{
		Arch:          "x86_64",
		DefaultAction: protocol.ProfileAction{Action: "kill", Text: "kill"},
		Syscalls:      []string{"read", "write"},
	}
	policy, err := seccomp.Render(metadata.SeccompProfile(), seccomp.ArchX86_64)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(policy))
	metadata.SHA256 = hex.EncodeToString(sum[:])
	return protocol.ProfilePutParams{Name: "web", Policy: policy, Metadata: metadata}
}

func TestProfileOperations(t *testing.T) {
	dir := stateDir(t)
	params := testPutParams(t)
	name := protocol.ProfileName{Name: "web"}
	results := callProfiles(t, dir,
		profileCall(t, 1, protocol.OpProfilePut, params),
		profileCall(t, 2, protocol.OpProfileGet, name),
		protocol.Call{ID: 3, Op: protocol.OpInventory},
		profileCall(t, 4, protocol.OpProfileDelete, name),
		profileCall(t, 5, protocol.OpProfileGet, name),
	)

	put := decode[protocol.ProfileState](t, results[0])
	if put.SHA256 != params.Metadata.SHA256 {
		t.Errorf("put SHA256 = %s; want %s", put.SHA256, params.Metadata.SHA256)
	}
	got := decode[protocol.ProfileState](t, results[1])
	if got.Policy != params.Policy || got.Metadata.DefaultAction.Action != "kill" {
		t.Errorf("get = %+v; want the policy and metadata put", got)
	}
	if inventory := decode[protocol.Inventory](t, results[2]); strings.Join(inventory.Profiles, ",") != "web" {
		t.Errorf("inventory profiles = %v; want [web]", inventory.Profiles)
	}
	if deleted := decode[protocol.ProfileDeleteResult](t, results[3]); !deleted.Removed {
		t.Error("delete did not remove the profile")
	}
	if err := results[4].Error; err == nil || err.Code != protocol.CodeNotFound {
		t.Errorf("get after delete = %v; want not_found", err)
	}
}

func TestProfileRejectsUnknownParams(t *testing.T) {
	call := protocol.Call{ID: 1, Op: protocol.OpProfileGet, Params: json.RawMessage(`{"name":"web","version":2}`)}
	results := callProfiles(t, stateDir(t), call)
	if err := results[0].Error; err == nil || err.Code != protocol.CodeInvalid {
		t.Errorf("get with an unknown field = %v; want invalid", err)
	}
}
