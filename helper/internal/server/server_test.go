package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

const testVersion = "v1.2.3-test"

// newTestServer returns a server with handlers that record the order in which they ran.
func newTestServer(t *testing.T, ran *[]string) *Server {
	t.Helper()
	registry := NewRegistry()
	registry.Register("echo", func(_ context.Context, env *Env, params json.RawMessage) (any, error) {
		*ran = append(*ran, "echo")
		var p struct {
			Text string `json:"text"`
		}
		if err := DecodeParams("echo", params, &p); err != nil {
			return nil, err
		}
		return map[string]string{"text": p.Text, "state_dir": env.State.Path, "lxc_path": env.LXCPath}, nil
	})
	registry.Register("missing", func(context.Context, *Env, json.RawMessage) (any, error) {
		*ran = append(*ran, "missing")
		return nil, protocol.Errorf(protocol.CodeNotFound, "container %q not found", "web")
	})
	registry.Register("wrapped", func(context.Context, *Env, json.RawMessage) (any, error) {
		*ran = append(*ran, "wrapped")
		return nil, fmt.Errorf("start web: %w", protocol.Errorf(protocol.CodeConflict, "web is busy"))
	})
	registry.Register("broken", func(context.Context, *Env, json.RawMessage) (any, error) {
		*ran = append(*ran, "broken")
		return nil, errors.New("disk on fire")
	})
	registry.Register("panics", func(context.Context, *Env, json.RawMessage) (any, error) {
		*ran = append(*ran, "panics")
		panic("nil map")
	})
	return &Server{
		Registry:      registry,
		HelperVersion: testVersion,
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func request(calls string) string {
	return `{"version":1,"state_dir":"/var/lib/iotfleet","lxc_path":"/var/lib/lxc","calls":[` + calls + `]}`
}

// serve runs one request through Serve and decodes the response from its output.
func serve(t *testing.T, srv *Server, input string) protocol.Response {
	t.Helper()
	var out bytes.Buffer
	if err := srv.Serve(context.Background(), strings.NewReader(input), &out); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	var response protocol.Response
	if err := json.Unmarshal(out.Bytes(), &response); err != nil {
		t.Fatalf("decode response %q: %v", out.String(), err)
	}
	if response.Version != protocol.Version {
		t.Errorf("response version = %d, want %d", response.Version, protocol.Version)
	}
	if response.HelperVersion != testVersion {
		t.Errorf("response helper_version = %q, want %q", response.HelperVersion, testVersion)
	}
	return response
}

func TestServeRunsCallsInOrder(t *testing.T) {
	var ran []string
	srv := newTestServer(t, &ran)

	response := serve(t, srv, request(`
		{"id":7,"op":"missing"},
		{"id":3,"op":"echo","params":{"text":"hi"}},
		{"id":5,"op":"broken"}`))

	if response.Error != nil {
		t.Fatalf("response error = %v", response.Error)
	}
	if got, want := strings.Join(ran, ","), "missing,echo,broken"; got != want {
		t.Errorf("handlers ran in order %s, want %s", got, want)
	}
	if len(response.Results) != 3 {
		t.Fatalf("got %d results, want 3", len(response.Results))
	}
	for i, id := range []int{7, 3, 5} {
		if response.Results[i].ID != id {
			t.Errorf("result %d has id %d, want %d", i, response.Results[i].ID, id)
		}
	}
	wantData := `{"lxc_path":"/var/lib/lxc","state_dir":"/var/lib/iotfleet","text":"hi"}`
	if got := string(response.Results[1].Data); got != wantData {
		t.Errorf("echo data = %s, want %s", got, wantData)
	}
	if response.Results[1].Error != nil {
		t.Errorf("echo error = %v, want none", response.Results[1].Error)
	}
}

func TestServeCallErrors(t *testing.T) {
	tests := []struct {
		op       string
		wantCode protocol.Code
		wantText string
	}{
		{"missing", protocol.CodeNotFound, `container "web" not found`},
		{"wrapped", protocol.CodeConflict, "start web: conflict: web is busy"},
		{"broken", protocol.CodeInternal, "disk on fire"},
		{"panics", protocol.CodeInternal, "panics panicked: nil map"},
		{"reboot", protocol.CodeUnknownOp, `unknown operation "reboot"; helper v1.2.3-test supports broken, echo, missing, panics, wrapped`},
	}
	for _, test := range tests {
		t.Run(test.op, func(t *testing.T) {
			var ran []string
			response := serve(t, newTestServer(t, &ran), request(`{"id":1,"op":"`+test.op+`"},{"id":2,"op":"echo","params":{}}`))

			if len(response.Results) != 2 {
				t.Fatalf("got %d results, want 2", len(response.Results))
			}
			first := response.Results[0]
			if first.Error == nil {
				t.Fatalf("result = %s, want an error", first.Data)
			}
			if first.Error.Code != test.wantCode {
				t.Errorf("code = %q, want %q", first.Error.Code, test.wantCode)
			}
			if first.Error.Message != test.wantText {
				t.Errorf("message = %q, want %q", first.Error.Message, test.wantText)
			}
			if first.Data != nil {
				t.Errorf("data = %s, want none next to an error", first.Data)
			}
			if response.Results[1].Error != nil {
				t.Errorf("the call after a failed one failed too: %v", response.Results[1].Error)
			}
		})
	}
}

func TestServeRejectsRequest(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		wantCode protocol.Code
		wantText string
	}{
		{"other version", `{"version":2,"calls":{"id":"new shape"}}`, protocol.CodeUnsupportedVersion, "protocol version 2"},
		{"version zero", `{"version":0}`, protocol.CodeUnsupportedVersion, "protocol version 0"},
		{"no version", `{"state_dir":"/var/lib/iotfleet"}`, protocol.CodeInvalid, "no version"},
		{"not json", `hello`, protocol.CodeInvalid, "malformed request"},
		{"empty", ``, protocol.CodeInvalid, "malformed request"},
		{"two documents", request(``) + request(``), protocol.CodeInvalid, "malformed request"},
		{"bad calls", `{"version":1,"state_dir":"/a","lxc_path":"/b","calls":{}}`, protocol.CodeInvalid, "malformed request"},
		{"duplicate ids", request(`{"id":1,"op":"echo"},{"id":1,"op":"echo"}`), protocol.CodeInvalid, "call id 1 appears more than once"},
		{"bad state_dir", strings.Replace(request(``), "/var/lib/iotfleet", "var/lib", 1), protocol.CodeInvalid, `invalid state_dir "var/lib"`},
		{"bad lxc_path", strings.Replace(request(``), "/var/lib/lxc", "/var/lib/../lxc", 1), protocol.CodeInvalid, `invalid lxc_path "/var/lib/../lxc"`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			var ran []string
			response := serve(t, newTestServer(t, &ran), test.input)

			if response.Error == nil {
				t.Fatalf("response has no error, results %+v", response.Results)
			}
			if response.Error.Code != test.wantCode {
				t.Errorf("code = %q, want %q", response.Error.Code, test.wantCode)
			}
			if !strings.Contains(response.Error.Message, test.wantText) {
				t.Errorf("message %q does not contain %q", response.Error.Message, test.wantText)
			}
			if len(response.Results) != 0 || len(ran) != 0 {
				t.Errorf("rejected request ran calls %v, results %+v", ran, response.Results)
			}
		})
	}
}

func TestServeRejectsOversizedRequest(t *testing.T) {
	var ran []string
	padding := strings.Repeat(" ", protocol.MaxRequestBytes)

	response := serve(t, newTestServer(t, &ran), request(`{"id":1,"op":"echo"}`)+padding)

	if response.Error == nil || response.Error.Code != protocol.CodeInvalid {
		t.Fatalf("response error = %v, want code %q", response.Error, protocol.CodeInvalid)
	}
	if !strings.Contains(response.Error.Message, "64 MiB") {
		t.Errorf("message %q does not state the limit", response.Error.Message)
	}
	if len(ran) != 0 {
		t.Errorf("oversized request ran %v", ran)
	}
}

func TestServeInterrupted(t *testing.T) {
	var ran []string
	srv := newTestServer(t, &ran)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	response := srv.Handle(ctx, strings.NewReader(request(`{"id":1,"op":"echo","params":{}}`)))

	if len(ran) != 0 {
		t.Errorf("interrupted helper ran %v", ran)
	}
	if len(response.Results) != 1 || response.Results[0].Error == nil {
		t.Fatalf("results = %+v, want one error", response.Results)
	}
	if got := response.Results[0].Error; got.Code != protocol.CodeInternal || !strings.Contains(got.Message, "interrupted") {
		t.Errorf("error = %v, want an internal error that names the interruption", got)
	}
}

func TestServeNoCalls(t *testing.T) {
	var ran []string
	response := serve(t, newTestServer(t, &ran), request(``))

	if response.Error != nil {
		t.Errorf("response error = %v, want none", response.Error)
	}
	if len(response.Results) != 0 {
		t.Errorf("results = %+v, want none", response.Results)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestServeWriteFailure(t *testing.T) {
	var ran []string
	srv := newTestServer(t, &ran)

	err := srv.Serve(context.Background(), strings.NewReader(request(``)), failingWriter{})
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("Serve error = %v, want the write failure", err)
	}
}
