package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func TestSetRecordingObserved(t *testing.T) {
	started := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	found := protocol.RecordingState{
		SHA256: "abc",
		Result: protocol.RecordingResult{
			Name: "web", Container: "app", Mechanism: "ptrace", Kernel: "6.1.0",
			Workload: protocol.WorkloadCommand, Command: []string{"/bin/ls", "/"},
			StartedAt: started, FinishedAt: started.Add(time.Second),
			Runs: []protocol.RecordingRun{{}, {}},
			Syscalls: map[string][]protocol.RecordedSyscall{
				"x86_64": {{Name: "getdents64", Count: 4, Runs: 2}, {Name: "read", Count: 9, Runs: 1}},
				"x86":    {{Name: "socketcall", Count: 1, Runs: 1}},
			},
		},
	}
	m := seccompRecordingModel{Name: types.StringValue("web"), ID: types.StringNull()}
	target := device.Target{Host: "192.0.2.1", Port: 22, User: "root", StateDir: "/var/lib/iotfleet"}
	if diags := setRecordingObserved(context.Background(), &m, target, found); diags.HasError() {
		t.Fatalf("setRecordingObserved: %v", diags)
	}

	checks := map[string][2]string{
		"container":   {m.Container.ValueString(), "app"},
		"path":        {m.Path.ValueString(), "/var/lib/iotfleet/recordings/web/result.json"},
		"started_at":  {m.StartedAt.ValueString(), "2026-01-02T03:04:05Z"},
		"finished_at": {m.FinishedAt.ValueString(), "2026-01-02T03:04:06Z"},
		"counts":      {m.Counts.Elements()["x86_64:read"].String(), "9"},
		"coverage":    {m.Coverage.Elements()["x86_64:read"].String(), "1"},
		"x86":         {m.Syscalls.Elements()["x86"].String(), `["socketcall"]`},
		"id":          {m.ID.ValueString(), "root@192.0.2.1:22/web"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %s; want %s", name, c[0], c[1])
		}
	}
	if got := m.Runs.ValueInt64(); got != 2 {
		t.Errorf("runs = %d; want 2", got)
	}
	if !m.DurationSeconds.IsNull() || len(m.Command.Elements()) != 2 {
		t.Errorf("duration_seconds = %v, command = %v; want null and the result's command", m.DurationSeconds, m.Command)
	}
}

func TestAddRecordingWarnings(t *testing.T) {
	cases := []struct {
		name     string
		coverage protocol.RecordingCoverage
		unknown  []protocol.UnknownSyscall
		want     []string
	}{
		{"settled", protocol.RecordingCoverage{Runs: 3, AddedByLastRun: 0}, nil, nil},
		{"one run", protocol.RecordingCoverage{Runs: 1, AddedByLastRun: 40}, nil, nil},
		{"last run added", protocol.RecordingCoverage{Runs: 3, AddedByLastRun: 2, SometimesNames: []string{"x86_64:tgkill"}},
			nil, []string{"Recording May Be Incomplete"}},
		{"unnamed", protocol.RecordingCoverage{Runs: 1}, []protocol.UnknownSyscall{{Arch: "x86_64", Number: 463}},
			[]string{"Unnamed Syscalls Recorded"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var diags diag.Diagnostics
			addRecordingWarnings(&diags, protocol.RecordingResult{Name: "web", Coverage: c.coverage, Unknown: c.unknown})
			var got []string
			for _, d := range diags {
				got = append(got, d.Summary())
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("warnings = %v; want %v", got, c.want)
			}
		})
	}
}
