package record

import (
	"errors"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func TestChooseMechanism(t *testing.T) {
	unavailable := errors.New("the kernel lacks CONFIG_BPF_EVENTS")
	cases := map[string]struct {
		requested    string
		probe        error
		want         string
		wantFallback bool
		wantErr      bool
		wantProbed   bool
	}{
		"unset loads":              {requested: "", want: protocol.MechanismEBPF, wantProbed: true},
		"unset falls back":         {requested: "", probe: unavailable, want: protocol.MechanismPtrace, wantFallback: true, wantProbed: true},
		"auto loads":               {requested: protocol.MechanismAuto, want: protocol.MechanismEBPF, wantProbed: true},
		"auto falls back":          {requested: protocol.MechanismAuto, probe: unavailable, want: protocol.MechanismPtrace, wantFallback: true, wantProbed: true},
		"ebpf loads":               {requested: protocol.MechanismEBPF, want: protocol.MechanismEBPF, wantProbed: true},
		"ebpf unavailable fails":   {requested: protocol.MechanismEBPF, probe: unavailable, wantErr: true, wantProbed: true},
		"ptrace skips the probe":   {requested: protocol.MechanismPtrace, want: protocol.MechanismPtrace},
		"ptrace ignores the probe": {requested: protocol.MechanismPtrace, probe: unavailable, want: protocol.MechanismPtrace},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			probed := false
			probe := func() error {
				probed = true
				return c.probe
			}
			got, fallback, err := chooseMechanism(c.requested, probe)
			if probed != c.wantProbed {
				t.Errorf("probed %v, want %v", probed, c.wantProbed)
			}
			if (err != nil) != c.wantErr {
				t.Fatalf("error %v, want error %v", err, c.wantErr)
			}
			if got != c.want {
				t.Errorf("mechanism %q, want %q", got, c.want)
			}
			if (fallback != nil) != c.wantFallback {
				t.Errorf("fallback %v, want fallback %v", fallback, c.wantFallback)
			}
		})
	}
}

func TestChooseMechanismErrorNamesFix(t *testing.T) {
	_, _, err := chooseMechanism(protocol.MechanismEBPF, func() error {
		return errors.New("the kernel lacks CONFIG_BPF_EVENTS")
	})
	if err == nil {
		t.Fatal("no error for an explicit ebpf that cannot load")
	}
	for _, want := range []string{"CONFIG_BPF_EVENTS", `mechanism = "ptrace"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
