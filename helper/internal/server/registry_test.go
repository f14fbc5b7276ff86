package server

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func TestRegisterTwicePanics(t *testing.T) {
	registry := NewRegistry()
	handler := func(context.Context, *Env, json.RawMessage) (any, error) { return nil, nil }
	registry.Register("hello", handler)

	defer func() {
		recovered := recover()
		if recovered == nil || !strings.Contains(recovered.(string), `"hello" registered twice`) {
			t.Errorf("recover() = %v, want a panic naming the operation", recovered)
		}
	}()
	registry.Register("hello", handler)
}

func TestNoParams(t *testing.T) {
	for _, params := range []string{"", "null", "{}", " { } "} {
		if err := NoParams("hello", json.RawMessage(params)); err != nil {
			t.Errorf("NoParams(%q) = %v, want nil", params, err)
		}
	}
	for _, params := range []string{`{"verbose":true}`, `[]`, `"x"`, `1`} {
		err := NoParams("hello", json.RawMessage(params))
		if !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("NoParams(%q) = %v, want an invalid error", params, err)
		}
	}
}

func TestDecodeParams(t *testing.T) {
	type params struct {
		Name string `json:"name"`
	}
	tests := []struct {
		name    string
		input   string
		want    string
		wantErr string
	}{
		{"valid", `{"name":"web"}`, "web", ""},
		{"unknown field", `{"name":"web","size":1}`, "", `unknown field "size"`},
		{"wrong type", `{"name":1}`, "", "cannot unmarshal number"},
		{"missing", ``, "", "needs params"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			var got params
			err := DecodeParams("start", json.RawMessage(test.input), &got)
			if test.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeParams: %v", err)
				}
				if got.Name != test.want {
					t.Errorf("name = %q, want %q", got.Name, test.want)
				}
				return
			}
			if !errors.Is(err, protocol.ErrInvalid) {
				t.Fatalf("DecodeParams error = %v, want an invalid error", err)
			}
			if !strings.Contains(err.Error(), test.wantErr) {
				t.Errorf("error %q does not contain %q", err, test.wantErr)
			}
		})
	}
}

func TestValidatePath(t *testing.T) {
	valid := []string{"/var/lib/iotfleet", "/a", "/opt/iot-fleet_2/state.d", "/x/...y"}
	for _, p := range valid {
		if err := ValidatePath("state_dir", p); err != nil {
			t.Errorf("ValidatePath(%q) = %v, want nil", p, err)
		}
	}

	invalid := map[string]string{
		"":                              "state_dir is missing",
		"var/lib":                       "absolute path",
		"/":                             "below /",
		"/var/lib/":                     "clean form",
		"/var//lib":                     "clean form",
		"/var/./lib":                    "clean form",
		"/var/../etc":                   "'..' segments",
		"/..":                           "'..' segments",
		"/var/lib/iot fleet":            "letters, digits",
		"/var/lib/$(reboot)":            "letters, digits",
		"/var/lib/iotfleet\n":           "letters, digits",
		"/var/lib/caf\u00e9":            "letters, digits",
		"/" + strings.Repeat("a", 1024): "more than the limit",
	}
	for p, wantText := range invalid {
		err := ValidatePath("state_dir", p)
		if err == nil {
			t.Errorf("ValidatePath(%q) = nil, want an error", p)
			continue
		}
		if err.Code != protocol.CodeInvalid {
			t.Errorf("ValidatePath(%q) code = %q, want %q", p, err.Code, protocol.CodeInvalid)
		}
		if !strings.Contains(err.Message, wantText) {
			t.Errorf("ValidatePath(%q) = %q, want a message containing %q", p, err.Message, wantText)
		}
	}
}
