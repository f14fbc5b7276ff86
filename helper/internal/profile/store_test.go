package profile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/state"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

func newTestStore(t *testing.T) Store {
	t.Helper()
	root := t.TempDir()
	return Store{
		State:   state.Dir{Path: filepath.Join(root, "state")},
		LXCPath: filepath.Join(root, "lxc"),
	}
}

// putParams returns valid params for profile name that allow syscalls.
func putParams(t *testing.T, name string, syscalls ...string) protocol.ProfilePutParams {
	t.Helper()
	metadata := protocol.ProfileMetadata{
		Arch:          string(seccomp.ArchX86_64),
		DefaultAction: protocol.ProfileAction{Action: "errno", Errno: 38, Text: "errno"},
		Syscalls:      syscalls,
		RuntimeBase:   []string{},
		Rules:         []protocol.ProfileRule{},
	}
	policy, err := seccomp.Render(metadata.SeccompProfile(), seccomp.ArchX86_64)
	if err != nil {
		t.Fatalf("render test policy: %v", err)
	}
	sum := sha256.Sum256([]byte(policy))
	metadata.SHA256 = hex.EncodeToString(sum[:])
	return protocol.ProfilePutParams{Name: name, Policy: policy, Metadata: metadata}
}

// useInContainer writes an LXC configuration for container that names policy.
func useInContainer(t *testing.T, s Store, container, policy string) {
	t.Helper()
	dir := filepath.Join(s.LXCPath, container)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	config := "lxc.uts.name = " + container + "\nlxc.seccomp.profile = " + policy + "\n"
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPutWritesVersion(t *testing.T) {
	s := newTestStore(t)
	params := putParams(t, "web", "read", "write")

	got, err := s.Put(context.Background(), params)
	if err != nil {
		t.Fatalf("Put = %v", err)
	}
	wantPath := filepath.Join(s.State.Path, "profiles", "web", params.Metadata.SHA256+".policy")
	if got.Path != wantPath {
		t.Errorf("Path = %s; want %s", got.Path, wantPath)
	}
	if got.SHA256 != params.Metadata.SHA256 {
		t.Errorf("SHA256 = %s; want %s", got.SHA256, params.Metadata.SHA256)
	}
	if len(got.Problems) != 0 {
		t.Errorf("Problems = %v; want none", got.Problems)
	}
	policy, err := os.ReadFile(wantPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(policy) != params.Policy {
		t.Errorf("policy file holds %q; want %q", policy, params.Policy)
	}

	var metadata protocol.ProfileMetadata
	data, err := os.ReadFile(strings.TrimSuffix(wantPath, ".policy") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &metadata); err != nil {
		t.Fatalf("metadata is not JSON: %v", err)
	}
	if metadata.SHA256 != params.Metadata.SHA256 || metadata.Arch != "x86_64" || !slices.Equal(metadata.Syscalls, []string{"read", "write"}) {
		t.Errorf("metadata = %+v; want the params' metadata", metadata)
	}
}

func TestPutIsIdempotent(t *testing.T) {
	s := newTestStore(t)
	params := putParams(t, "web", "read")
	first, err := s.Put(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Put(context.Background(), params)
	if err != nil {
		t.Fatalf("second Put = %v", err)
	}
	if second.Path != first.Path || second.SHA256 != first.SHA256 || len(second.KeptVersions) != 0 {
		t.Errorf("second Put = %+v; want the same version and nothing kept", second)
	}
}

func TestPutPrunesUnusedVersions(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	old, err := s.Put(ctx, putParams(t, "web", "read"))
	if err != nil {
		t.Fatal(err)
	}
	current, err := s.Put(ctx, putParams(t, "web", "read", "write"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old version %s: stat = %v; want it removed", old.Path, err)
	}
	if _, err := os.Stat(strings.TrimSuffix(old.Path, ".policy") + ".json"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old metadata: stat = %v; want it removed", err)
	}
	if len(current.KeptVersions) != 0 {
		t.Errorf("KeptVersions = %v; want none", current.KeptVersions)
	}
}

func TestPutKeepsReferencedVersions(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	old, err := s.Put(ctx, putParams(t, "web", "read"))
	if err != nil {
		t.Fatal(err)
	}
	useInContainer(t, s, "app", old.Path)

	current, err := s.Put(ctx, putParams(t, "web", "read", "write"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old.Path); err != nil {
		t.Errorf("old version used by a container: %v; want it kept", err)
	}
	if !slices.Equal(current.KeptVersions, []string{old.Path}) {
		t.Errorf("KeptVersions = %v; want [%s]", current.KeptVersions, old.Path)
	}

	// Once no configuration names it, Prune removes it.
	useInContainer(t, s, "app", current.Path)
	kept, err := s.Prune(ctx, "web")
	if err != nil {
		t.Fatalf("Prune = %v", err)
	}
	if len(kept) != 0 {
		t.Errorf("Prune kept %v; want nothing", kept)
	}
	if _, err := os.Stat(old.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old version after Prune: stat = %v; want it removed", err)
	}
}

func TestPutRejectsInvalidParams(t *testing.T) {
	s := newTestStore(t)
	cases := map[string]func(p *protocol.ProfilePutParams){
		"bad name":         func(p *protocol.ProfilePutParams) { p.Name = "Web_1" },
		"wrong sha256":     func(p *protocol.ProfilePutParams) { p.Metadata.SHA256 = strings.Repeat("0", 64) },
		"policy edited":    func(p *protocol.ProfilePutParams) { p.Policy += "write\n"; p.Metadata.SHA256 = sha(p.Policy) },
		"invalid metadata": func(p *protocol.ProfilePutParams) { p.Metadata.Syscalls = []string{"reed"} },
		"unknown arch":     func(p *protocol.ProfilePutParams) { p.Metadata.Arch = "mips" },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			params := putParams(t, "web", "read")
			change(&params)
			_, err := s.Put(context.Background(), params)
			if !errors.Is(err, protocol.ErrInvalid) {
				t.Errorf("Put = %v; want an invalid error", err)
			}
		})
	}
	if _, err := os.Stat(s.State.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state folder: stat = %v; want nothing written", err)
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestGetMissingProfile(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.Get(context.Background(), "web"); !errors.Is(err, protocol.ErrNotFound) {
		t.Errorf("Get on a missing state folder = %v; want not found", err)
	}
	if _, err := s.Put(context.Background(), putParams(t, "other", "read")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(context.Background(), "web"); !errors.Is(err, protocol.ErrNotFound) {
		t.Errorf("Get on a missing profile = %v; want not found", err)
	}
}

func TestGetReportsDamage(t *testing.T) {
	cases := []struct {
		name       string
		damage     func(t *testing.T, policyPath string)
		wantSHA256 func(params protocol.ProfilePutParams) string
	}{
		{"policy removed", func(t *testing.T, p string) { remove(t, p) },
			func(protocol.ProfilePutParams) string { return "" }},
		{"policy altered", func(t *testing.T, p string) { write(t, p, "2\nallowlist kill\n") },
			func(protocol.ProfilePutParams) string { return sha("2\nallowlist kill\n") }},
		{"metadata removed", func(t *testing.T, p string) { remove(t, strings.TrimSuffix(p, ".policy")+".json") },
			func(protocol.ProfilePutParams) string { return "" }},
		{"metadata garbled", func(t *testing.T, p string) { write(t, strings.TrimSuffix(p, ".policy")+".json", "{") },
			func(protocol.ProfilePutParams) string { return "" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestStore(t)
			params := putParams(t, "web", "read")
			written, err := s.Put(context.Background(), params)
			if err != nil {
				t.Fatal(err)
			}
			c.damage(t, written.Path)

			got, err := s.Get(context.Background(), "web")
			if err != nil {
				t.Fatalf("Get = %v", err)
			}
			if want := c.wantSHA256(params); got.SHA256 != want {
				t.Errorf("SHA256 = %q; want %q", got.SHA256, want)
			}
			if len(got.Problems) == 0 {
				t.Error("Problems is empty; want the damage described")
			}
			if got.Path != written.Path {
				t.Errorf("Path = %s; want %s", got.Path, written.Path)
			}
		})
	}
}

func TestGetWithoutValidCurrentIsNotFound(t *testing.T) {
	s := newTestStore(t)
	written, err := s.Put(context.Background(), putParams(t, "web", "read"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(filepath.Dir(written.Path), "current"), "garbage\n")
	if _, err := s.Get(context.Background(), "web"); !errors.Is(err, protocol.ErrNotFound) {
		t.Errorf("Get = %v; want not found, so that the next apply writes the profile again", err)
	}
}

func TestDeleteRefusesWhileReferenced(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	written, err := s.Put(ctx, putParams(t, "web", "read"))
	if err != nil {
		t.Fatal(err)
	}
	useInContainer(t, s, "db", written.Path)
	useInContainer(t, s, "app", written.Path)

	_, err = s.Delete(ctx, "web")
	if !errors.Is(err, protocol.ErrConflict) {
		t.Fatalf("Delete = %v; want a conflict", err)
	}
	if !strings.Contains(err.Error(), "containers app and db") {
		t.Errorf("Delete error %q does not name the containers", err)
	}
	if _, err := os.Stat(written.Path); err != nil {
		t.Errorf("policy after a refused delete: %v", err)
	}
}

func TestDeleteRemovesProfile(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	written, err := s.Put(ctx, putParams(t, "web", "read"))
	if err != nil {
		t.Fatal(err)
	}
	useInContainer(t, s, "app", "/var/lib/iotfleet/profiles/webserver/x.policy")

	result, err := s.Delete(ctx, "web")
	if err != nil || !result.Removed {
		t.Fatalf("Delete = %+v, %v; want removed", result, err)
	}
	if _, err := os.Stat(filepath.Dir(written.Path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("profile folder: stat = %v; want it removed", err)
	}
	again, err := s.Delete(ctx, "web")
	if err != nil || again.Removed {
		t.Errorf("second Delete = %+v, %v; want not removed and no error", again, err)
	}
}

func TestSeccompProfilesParsesLXCConfig(t *testing.T) {
	config := strings.Join([]string{
		"# lxc.seccomp.profile = /commented/out",
		"lxc.seccomp.profile=/a/one.policy",
		"  lxc.seccomp.profile   =   /a/two.policy  ",
		`lxc.seccomp.profile = "/a/three.policy"`,
		"lxc.seccomp.profile =",
		"lxc.seccomp.notify.proxy = /a/not-a-profile",
		"lxc.seccomp.profile = /a/../a/four.policy",
	}, "\n")
	file := filepath.Join(t.TempDir(), "config")
	write(t, file, config)
	got, err := seccompProfiles(file)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/a/one.policy", "/a/two.policy", "/a/three.policy", "/a/four.policy"}
	if !slices.Equal(got, want) {
		t.Errorf("seccompProfiles = %q; want %q", got, want)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
