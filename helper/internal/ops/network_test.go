package ops

import (
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// serveNetworkCall runs one call against the network operations only.
func serveNetworkCall(t *testing.T, op string, params string) protocol.Result {
	t.Helper()
	registry := server.NewRegistry()
	NewNetwork().Register(registry)
	srv := &server.Server{
		Registry:      registry,
		HelperVersion: "v0.1.0",
		LockTimeout:   200 * time.Millisecond,
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	input, err := json.Marshal(protocol.Request{
		Version:  protocol.Version,
		StateDir: stateDir(t),
		LXCPath:  "/var/lib/lxc",
		Calls:    []protocol.Call{{ID: 1, Op: op, Params: json.RawMessage(params)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	response := srv.Handle(t.Context(), strings.NewReader(string(input)))
	if response.Error != nil || len(response.Results) != 1 {
		t.Fatalf("response = %+v", response)
	}
	return response.Results[0]
}

func TestNetworkOpsRegistered(t *testing.T) {
	registry := server.NewRegistry()

	NewNetwork().Register(registry)

	for _, op := range []string{protocol.OpNetworkApply, protocol.OpNetworkCheck, protocol.OpNetworkGet,
		protocol.OpNetworkDelete, protocol.OpNetworkRestore} {
		if !slices.Contains(registry.Ops(), op) {
			t.Errorf("operation %s is not registered; registered: %v", op, registry.Ops())
		}
	}
}

func TestNetworkOpsRejectInvalidParams(t *testing.T) {
	cases := []struct {
		name, op, params, text string
	}{
		{"check_bad_mode", protocol.OpNetworkCheck, `{"name":"lan0","mode":"routed","ipv4_cidr":"10.80.0.1/24"}`, "invalid network mode"},
		{"apply_network_address", protocol.OpNetworkApply, `{"name":"lan0","mode":"bridge","ipv4_cidr":"10.80.0.0/24"}`, "network address"},
		{"apply_unknown_field", protocol.OpNetworkApply, `{"name":"lan0","mode":"bridge","ipv4_cidr":"10.80.0.1/24","vlan":5}`, "unknown field"},
		{"get_bad_name", protocol.OpNetworkGet, `{"name":"Lan 0"}`, "invalid network name"},
		{"delete_long_name", protocol.OpNetworkDelete, `{"name":"network-name-xyz"}`, "invalid network name"},
		{"restore_params", protocol.OpNetworkRestore, `{"all":true}`, "takes no params"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			result := serveNetworkCall(t, tc.op, tc.params)

			if result.Error == nil || result.Error.Code != protocol.CodeInvalid {
				t.Fatalf("result = %+v, want code %s", result, protocol.CodeInvalid)
			}
			if !strings.Contains(result.Error.Message, tc.text) {
				t.Errorf("message %q does not mention %q", result.Error.Message, tc.text)
			}
		})
	}
}

func TestNetworkGetMissing(t *testing.T) {
	result := serveNetworkCall(t, protocol.OpNetworkGet, `{"name":"lan0"}`)

	if result.Error == nil || result.Error.Code != protocol.CodeNotFound {
		t.Errorf("result = %+v, want code %s", result, protocol.CodeNotFound)
	}
}
