package protocol

import (
	"strings"
	"testing"
	"time"
)

func TestRecordingRunParamsValidate(t *testing.T) {
	tests := []struct {
		name   string
		params RecordingRunParams
		want   string
	}{
		{"start", RecordingRunParams{Name: "web", DurationSeconds: 30}, ""},
		{"command", RecordingRunParams{Name: "web", Command: []string{"ls"}, Runs: 3}, ""},
		{"bad name", RecordingRunParams{Name: "Web", DurationSeconds: 30}, "invalid recording name"},
		{"neither", RecordingRunParams{Name: "web"}, "exactly one of"},
		{"both", RecordingRunParams{Name: "web", DurationSeconds: 1, Command: []string{"ls"}}, "exactly one of"},
		{"too many runs", RecordingRunParams{Name: "web", DurationSeconds: 1, Runs: 21}, "runs 21"},
		{"timeout below duration", RecordingRunParams{Name: "web", DurationSeconds: 10, TimeoutSeconds: 10}, "must exceed"},
		{"empty program", RecordingRunParams{Name: "web", Command: []string{""}}, "command[0] is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.params.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestRecordingRunParamsDefaults(t *testing.T) {
	start := RecordingRunParams{DurationSeconds: 20}
	if start.Timeout() != 50*time.Second || start.RunCount() != 1 || start.Workload() != WorkloadStart {
		t.Errorf("start defaults: timeout %s, runs %d, workload %q", start.Timeout(), start.RunCount(), start.Workload())
	}
	command := RecordingRunParams{Command: []string{"ls"}, Runs: 2}
	if command.Timeout() != DefaultRecordingTimeout*time.Second || command.RunCount() != 2 || command.Workload() != WorkloadCommand {
		t.Errorf("command defaults: timeout %s, runs %d, workload %q", command.Timeout(), command.RunCount(), command.Workload())
	}
}
