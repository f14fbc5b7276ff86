package device

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// newCallTestClient returns a client for a test server whose helper file exists.
func newCallTestClient(t *testing.T, serve serveFunc) (*Client, *testServer) {
	t.Helper()
	server := newTestServer(t)
	if serve != nil {
		server.setServe(serve)
	}
	target := pinnedTarget(server)
	installFakeHelper(t, target)
	pool := NewPool(testCredentials(), time.Minute)
	t.Cleanup(func() { pool.Close() })
	client, err := pool.Get(context.Background(), target)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	return client, server
}

func TestCallSendsRequest(t *testing.T) {
	requests := make(chan protocol.Request, 1)
	client, server := newCallTestClient(t, func(request protocol.Request) ([]byte, string, int) {
		requests <- request
		return echoServe(request)
	})
	type params struct {
		Name string `json:"name"`
	}

	var result params
	if err := client.Call(context.Background(), "echo", params{Name: "web"}, &result); err != nil {
		t.Fatalf("Call() error = %v", err)
	}
	if result.Name != "web" {
		t.Errorf("result = %+v, want the echoed parameters", result)
	}
	received := <-requests
	target := client.Target()
	if want := "'" + target.HelperPath() + "' serve"; server.lastCommand() != want {
		t.Errorf("command = %q, want %q", server.lastCommand(), want)
	}
	if received.Version != protocol.Version || received.StateDir != target.StateDir || received.LXCPath != target.LXCPath {
		t.Errorf("request = %+v, want version %d, state dir %q and lxc path %q", received, protocol.Version, target.StateDir, target.LXCPath)
	}
	if len(received.Calls) != 1 || received.Calls[0].Op != "echo" {
		t.Errorf("calls = %+v, want one echo call", received.Calls)
	}
}

func TestBatchOrdersResults(t *testing.T) {
	client, _ := newCallTestClient(t, func(request protocol.Request) ([]byte, string, int) {
		response := protocol.Response{Version: protocol.Version}
		for i := len(request.Calls) - 1; i >= 0; i-- {
			data, _ := json.Marshal(request.Calls[i].Op)
			response.Results = append(response.Results, protocol.Result{ID: request.Calls[i].ID, Data: data})
		}
		body, _ := json.Marshal(response)
		return body, "", 0
	})
	calls := []protocol.Call{{ID: 7, Op: "first"}, {ID: 3, Op: "second"}}
	response, err := client.Batch(context.Background(), calls)
	if err != nil {
		t.Fatalf("Batch() error = %v", err)
	}
	for i, call := range calls {
		if response.Results[i].ID != call.ID {
			t.Errorf("result %d has ID %d, want %d", i, response.Results[i].ID, call.ID)
		}
	}
}

func TestCallMapsHelperErrors(t *testing.T) {
	tests := []struct {
		code     protocol.Code
		sentinel error
	}{
		{code: protocol.CodeNotFound, sentinel: protocol.ErrNotFound},
		{code: protocol.CodeInvalid, sentinel: protocol.ErrInvalid},
		{code: protocol.CodeConflict, sentinel: protocol.ErrConflict},
		{code: protocol.CodeInternal, sentinel: protocol.ErrInternal},
		{code: protocol.CodeUnknownOp, sentinel: protocol.ErrUnknownOp},
	}
	for _, test := range tests {
		t.Run(string(test.code), func(t *testing.T) {
			client, _ := newCallTestClient(t, func(request protocol.Request) ([]byte, string, int) {
				response := protocol.Response{Version: protocol.Version, Results: []protocol.Result{
					{ID: request.Calls[0].ID, Error: protocol.Errorf(test.code, "container %q", "web")},
				}}
				body, _ := json.Marshal(response)
				return body, "", 0
			})
			err := client.Call(context.Background(), "op", nil, nil)
			if !errors.Is(err, test.sentinel) {
				t.Errorf("Call() error = %v, want one matching %v", err, test.sentinel)
			}
			var helperErr *protocol.Error
			if !errors.As(err, &helperErr) || helperErr.Message != `container "web"` {
				t.Errorf("Call() error = %v, want the helper's *protocol.Error", err)
			}
		})
	}
}

func TestBatchRequestError(t *testing.T) {
	client, _ := newCallTestClient(t, func(protocol.Request) ([]byte, string, int) {
		response := protocol.Response{Version: 2, Error: protocol.Errorf(protocol.CodeUnsupportedVersion, "want version 2")}
		body, _ := json.Marshal(response)
		return body, "", 3
	})
	_, err := client.Batch(context.Background(), []protocol.Call{{ID: 1, Op: protocol.OpHello}})
	if !errors.Is(err, protocol.ErrUnsupportedVersion) {
		t.Errorf("Batch() error = %v, want one matching ErrUnsupportedVersion", err)
	}
}

func TestBatchFailures(t *testing.T) {
	tests := []struct {
		name    string
		serve   serveFunc
		wantErr string
	}{
		{
			name:    "crash",
			serve:   func(protocol.Request) ([]byte, string, int) { return nil, "panic: boom\n", 2 },
			wantErr: "exited with status 2: panic: boom",
		},
		{
			name:    "garbage",
			serve:   func(protocol.Request) ([]byte, string, int) { return []byte("not json"), "", 0 },
			wantErr: "decode helper response",
		},
		{
			name: "missing result",
			serve: func(protocol.Request) ([]byte, string, int) {
				return []byte(`{"version":1,"results":[]}`), "", 0
			},
			wantErr: "no result for call 1",
		},
		{
			name: "old protocol",
			serve: func(protocol.Request) ([]byte, string, int) {
				return []byte(`{"version":0,"results":[{"id":1}]}`), "", 0
			},
			wantErr: "protocol version 0",
		},
		{
			name: "non-zero exit after a response",
			serve: func(request protocol.Request) ([]byte, string, int) {
				body, _, _ := echoServe(request)
				return body, "", 1
			},
			wantErr: "exited with status 1",
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			client, _ := newCallTestClient(t, test.serve)
			_, err := client.Batch(context.Background(), []protocol.Call{{ID: 1, Op: protocol.OpHello}})
			if err == nil || !strings.Contains(err.Error(), test.wantErr) {
				t.Errorf("Batch() error = %v, want one containing %q", err, test.wantErr)
			}
		})
	}
}

func TestBatchInvalidCalls(t *testing.T) {
	client, server := newCallTestClient(t, nil)
	tests := map[string][]protocol.Call{
		"no calls":      nil,
		"no operation":  {{ID: 1}},
		"duplicate IDs": {{ID: 1, Op: "a"}, {ID: 1, Op: "b"}},
	}
	for name, calls := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := client.Batch(context.Background(), calls); err == nil {
				t.Errorf("Batch() error = nil, want an error")
			}
		})
	}
	if got := server.lastCommand(); got != "" {
		t.Errorf("server ran %q for invalid calls, want nothing", got)
	}
}

func TestBatchMissingHelper(t *testing.T) {
	server := newTestServer(t)
	pool := NewPool(testCredentials(), time.Minute)
	defer pool.Close()
	client, err := pool.Get(context.Background(), pinnedTarget(server))
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	err = client.Call(context.Background(), protocol.OpHello, nil, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Call() error = %v, want one matching fs.ErrNotExist", err)
	}
}

func TestBatchMissingLibrary(t *testing.T) {
	client, _ := newCallTestClient(t, func(protocol.Request) ([]byte, string, int) {
		return nil, "iotfleet-helper: error while loading shared libraries: liblxc.so.1: cannot open shared object file: No such file or directory\n", 127
	})
	err := client.Call(context.Background(), protocol.OpHello, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "liblxc.so.1") {
		t.Errorf("Call() error = %v, want one naming the missing library", err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Call() error = %v matches fs.ErrNotExist, but the helper is installed", err)
	}
}

func TestBatchContextCancel(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	client, _ := newCallTestClient(t, func(request protocol.Request) ([]byte, string, int) {
		if request.Calls[0].Op == "block" {
			<-release
		}
		return echoServe(request)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	started := time.Now()
	err := client.Call(ctx, "block", nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Call() error = %v, want one matching context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(started); elapsed > time.Second {
		t.Errorf("Call() returned after %s, want about 100ms", elapsed)
	}
	if err := client.Call(context.Background(), "hello", nil, nil); err != nil {
		t.Errorf("Call() after a cancelled call error = %v", err)
	}
}

func TestShellQuote(t *testing.T) {
	shell, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	for _, word := range []string{
		"/var/lib/iotfleet/bin/iotfleet-helper",
		"/opt/it's here/helper",
		"$(reboot) `id` ; & | > *",
		"''",
		"",
	} {
		quoted := shellQuote(word)
		output, err := exec.Command(shell, "-c", "printf %s "+quoted).Output()
		if err != nil {
			t.Fatalf("sh -c printf %s: %v", quoted, err)
		}
		if string(output) != word {
			t.Errorf("shell read %q back as %q", word, output)
		}
	}
}

func TestCappedBuffer(t *testing.T) {
	overflows := make(chan struct{}, 2)
	buffer := &cappedBuffer{limit: 5, onOverflow: func() { overflows <- struct{}{} }}
	for _, chunk := range []string{"abc", "defg", "hij"} {
		if n, err := buffer.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Errorf("Write(%q) = %d, %v, want %d, nil", chunk, n, err, len(chunk))
		}
	}
	if got := buffer.String(); got != "abcde" {
		t.Errorf("buffer = %q, want %q", got, "abcde")
	}
	if !buffer.overflowed() {
		t.Errorf("overflowed() = false, want true")
	}
	<-overflows
	select {
	case <-overflows:
		t.Errorf("onOverflow ran twice, want once")
	case <-time.After(50 * time.Millisecond):
	}
}
