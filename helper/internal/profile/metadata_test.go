package profile

import (
	"context"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func TestForPolicy(t *testing.T) {
	s := newTestStore(t)
	params := putParams(t, "web", "read")
	written, err := s.Put(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}

	metadata, err := ForPolicy(written.Path)
	if err != nil {
		t.Fatalf("ForPolicy = %v", err)
	}
	if metadata.SHA256 != params.Metadata.SHA256 || metadata.Arch != "x86_64" {
		t.Errorf("ForPolicy = %+v; want the metadata put", metadata)
	}

	write(t, written.Path, "2\nallowlist kill\n")
	if _, err := ForPolicy(written.Path); err == nil || !strings.Contains(err.Error(), "apply the profile again") {
		t.Errorf("ForPolicy of an altered policy = %v; want an error", err)
	}
	if _, err := ForPolicy(strings.TrimSuffix(written.Path, ".policy") + ".json"); err == nil {
		t.Error("ForPolicy of a metadata file succeeded; want an error")
	}
}

func TestCompatDenyFilterFollowsMetadata(t *testing.T) {
	cases := []struct {
		name     string
		metadata protocol.ProfileMetadata
		want     bool
	}{
		{"x86_64 denies compat", protocol.ProfileMetadata{Arch: "x86_64", DefaultAction: protocol.ProfileAction{Action: "errno", Errno: 38}}, true},
		{"arm64 denies compat", protocol.ProfileMetadata{Arch: "arm64", DefaultAction: protocol.ProfileAction{Action: "kill"}}, true},
		{"compat allowed", protocol.ProfileMetadata{Arch: "x86_64", AllowCompatABIs: true, DefaultAction: protocol.ProfileAction{Action: "kill"}}, false},
		{"arm has no compat ABI", protocol.ProfileMetadata{Arch: "arm", DefaultAction: protocol.ProfileAction{Action: "kill"}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			program, err := CompatDenyFilter(c.metadata)
			if err != nil {
				t.Fatalf("CompatDenyFilter = %v", err)
			}
			if got := program != nil; got != c.want {
				t.Errorf("CompatDenyFilter returned a program: %v; want %v", got, c.want)
			}
		})
	}
}
