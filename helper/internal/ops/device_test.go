package ops

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/facts"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

var testFacts = protocol.Facts{
	Arch:           "armv7l",
	KernelRelease:  "6.6.31+rpt-rpi-v7",
	LXCVersion:     "5.0.2",
	CgroupLayout:   protocol.CgroupV2,
	SeccompActions: []string{"kill_process", "errno", "allow"},
	AppArmor:       false,
}

func fakeHost() facts.Host {
	files := map[string]string{
		facts.SeccompActionsFile:  "kill_process errno allow\n",
		facts.AppArmorEnabledFile: "N\n",
	}
	return facts.Host{
		Uname:      func() (string, string, error) { return testFacts.Arch, testFacts.KernelRelease, nil },
		StatfsType: func(string) (int64, error) { return 0x63677270, nil }, // CGROUP2_SUPER_MAGIC
		ReadFile: func(path string) ([]byte, error) {
			if content, ok := files[path]; ok {
				return []byte(content), nil
			}
			return nil, fs.ErrNotExist
		},
		LXCVersion: func() (string, error) { return testFacts.LXCVersion, nil },
	}
}

// call sends one request with the given calls against stateDir and returns its results.
func call(t *testing.T, stateDir string, calls ...protocol.Call) []protocol.Result {
	t.Helper()
	registry := server.NewRegistry()
	Device{Facts: fakeHost()}.Register(registry)
	srv := &server.Server{
		Registry:      registry,
		HelperVersion: "v0.1.0",
		LockTimeout:   200 * time.Millisecond,
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	input, err := json.Marshal(protocol.Request{
		Version: protocol.Version, StateDir: stateDir, LXCPath: "/var/lib/lxc", Calls: calls,
	})
	if err != nil {
		t.Fatal(err)
	}

	response := srv.Handle(context.Background(), strings.NewReader(string(input)))
	if response.Error != nil {
		t.Fatalf("request failed: %v", response.Error)
	}
	if len(response.Results) != len(calls) {
		t.Fatalf("got %d results for %d calls", len(response.Results), len(calls))
	}
	return response.Results
}

func decode[T any](t *testing.T, result protocol.Result) T {
	t.Helper()
	var value T
	if result.Error != nil {
		t.Fatalf("call %d failed: %v", result.ID, result.Error)
	}
	if err := json.Unmarshal(result.Data, &value); err != nil {
		t.Fatalf("decode result %d: %v", result.ID, err)
	}
	return value
}

func stateDir(t *testing.T) string {
	return filepath.Join(t.TempDir(), "iotfleet")
}

func TestHello(t *testing.T) {
	results := call(t, stateDir(t), protocol.Call{ID: 1, Op: protocol.OpHello})

	got := decode[protocol.HelloResult](t, results[0])
	want := protocol.HelloResult{HelperVersion: "v0.1.0", ProtocolVersion: protocol.Version}
	if got != want {
		t.Errorf("hello = %+v, want %+v", got, want)
	}
}

func TestFacts(t *testing.T) {
	results := call(t, stateDir(t), protocol.Call{ID: 1, Op: protocol.OpFacts})

	got := decode[protocol.Facts](t, results[0])
	if !reflect.DeepEqual(got, testFacts) {
		t.Errorf("facts = %+v, want %+v", got, testFacts)
	}
}

func TestDeviceOpsRejectParams(t *testing.T) {
	for _, op := range []string{protocol.OpHello, protocol.OpFacts, protocol.OpInventory, protocol.OpUninstall} {
		t.Run(op, func(t *testing.T) {
			results := call(t, stateDir(t), protocol.Call{ID: 1, Op: op, Params: json.RawMessage(`{"force":true}`)})

			if results[0].Error == nil || results[0].Error.Code != protocol.CodeInvalid {
				t.Errorf("error = %v, want code %q", results[0].Error, protocol.CodeInvalid)
			}
		})
	}
}

func TestInventoryThenUninstallConflict(t *testing.T) {
	dir := stateDir(t)
	for _, object := range []string{"containers/web", "containers/db"} {
		if err := os.MkdirAll(filepath.Join(dir, object), 0o700); err != nil {
			t.Fatal(err)
		}
	}

	results := call(t, dir,
		protocol.Call{ID: 1, Op: protocol.OpInventory},
		protocol.Call{ID: 2, Op: protocol.OpUninstall})

	inventory := decode[protocol.Inventory](t, results[0])
	if !reflect.DeepEqual(inventory.Containers, []string{"db", "web"}) {
		t.Errorf("containers = %q, want [db web]", inventory.Containers)
	}
	uninstallErr := results[1].Error
	if uninstallErr == nil || uninstallErr.Code != protocol.CodeConflict {
		t.Fatalf("uninstall error = %v, want code %q", uninstallErr, protocol.CodeConflict)
	}
	want := "device still holds 2 containers (db, web) managed by iotfleet; destroy them first"
	if uninstallErr.Message != want {
		t.Errorf("uninstall message = %q, want %q", uninstallErr.Message, want)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("state folder after a refused uninstall: %v", err)
	}
}

func TestUninstallTwice(t *testing.T) {
	dir := stateDir(t)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o700); err != nil {
		t.Fatal(err)
	}

	results := call(t, dir,
		protocol.Call{ID: 1, Op: protocol.OpUninstall},
		protocol.Call{ID: 2, Op: protocol.OpUninstall},
		protocol.Call{ID: 3, Op: protocol.OpInventory})

	if first := decode[protocol.UninstallResult](t, results[0]); !first.Removed {
		t.Error("first uninstall: removed = false, want true")
	}
	if second := decode[protocol.UninstallResult](t, results[1]); second.Removed {
		t.Error("second uninstall: removed = true, want false")
	}
	if inventory := decode[protocol.Inventory](t, results[2]); !inventory.Empty() {
		t.Errorf("inventory after uninstall = %+v, want empty", inventory)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state folder after uninstall: stat error = %v, want not exist", err)
	}
}

func TestInventoryEmptyListsEncodeAsArrays(t *testing.T) {
	results := call(t, stateDir(t), protocol.Call{ID: 1, Op: protocol.OpInventory})

	want := `{"containers":[],"networks":[],"profiles":[],"recordings":[]}`
	if got := string(results[0].Data); got != want {
		t.Errorf("inventory = %s, want %s", got, want)
	}
}
