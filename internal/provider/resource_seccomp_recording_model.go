package provider

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// recordingRunParams returns the recording.run parameters of the model. Null values stay
// zero, which the helper reads as their defaults.
func recordingRunParams(ctx context.Context, m seccompRecordingModel) (protocol.RecordingRunParams, diag.Diagnostics) {
	params := protocol.RecordingRunParams{
		Name:            m.Name.ValueString(),
		Container:       m.Container.ValueString(),
		DurationSeconds: int(m.DurationSeconds.ValueInt64()),
		Runs:            int(m.Runs.ValueInt64()),
		TimeoutSeconds:  int(m.TimeoutSeconds.ValueInt64()),
		Mechanism:       m.Mechanism.ValueString(),
	}
	var diags diag.Diagnostics
	if !m.Command.IsNull() && !m.Command.IsUnknown() {
		diags.Append(m.Command.ElementsAs(ctx, &params.Command, false)...)
	}
	return params, diags
}

// addRecordingRunError reports a failed recording.run, naming the fix for a container that is
// missing or in the wrong state for the workload.
func addRecordingRunError(diags *diag.Diagnostics, target device.Target, params protocol.RecordingRunParams, err error) {
	switch {
	case errors.Is(err, protocol.ErrConflict) && params.Workload() == protocol.WorkloadStart:
		diags.AddError("Container Must Be Stopped",
			fmt.Sprintf("Could not record the start of container %q on %s: %s.\n\nA recording with duration_seconds "+
				"starts the container itself, so set `running = false` on the container while you record, or record "+
				"a command attached to the running container with `command` instead.",
				params.Container, target, helperMessage(err)))
	case errors.Is(err, protocol.ErrConflict):
		diags.AddError("Container Must Be Running",
			fmt.Sprintf("Could not record command %q in container %q on %s: %s.\n\nA recording with command attaches "+
				"to the running container, so set `running = true` on the container, or record its start with "+
				"`duration_seconds` instead.", strings.Join(params.Command, " "), params.Container, target,
				helperMessage(err)))
	case errors.Is(err, protocol.ErrNotFound):
		diags.AddError("Container Not Found",
			fmt.Sprintf("Could not record container %q on %s: %s.\n\nCreate the container first, for example by "+
				"setting `container = iotfleet_container.<name>.name`, so Terraform orders the two.",
				params.Container, target, helperMessage(err)))
	case errors.Is(err, context.DeadlineExceeded):
		diags.AddError("Recording Timed Out",
			fmt.Sprintf("Recording %q on %s did not finish within %d runs of %s plus %s: %v.\n\nRaise "+
				"timeout_seconds or lower runs.", params.Name, target, params.RunCount(), params.Timeout(),
				recordingCallAllowance, err))
	default:
		addDeviceError(diags, "apply", target, err)
	}
}

// addRecordingWarnings warns when the result may not cover everything that the workload does.
func addRecordingWarnings(diags *diag.Diagnostics, result protocol.RecordingResult) {
	coverage := result.Coverage
	if coverage.Runs > 1 && coverage.AddedByLastRun > 0 {
		diags.AddWarning("Recording May Be Incomplete",
			fmt.Sprintf("The last of %d runs of recording %q made %s that no earlier run made, so more runs "+
				"may find more. Only some runs made %s. Raise runs, or make sure the profile's syscalls list these names.",
				coverage.Runs, result.Name, plural(coverage.AddedByLastRun, "syscall"),
				strings.Join(coverage.SometimesNames, ", ")))
	}
	if len(result.Unknown) > 0 {
		numbers := make([]string, 0, len(result.Unknown))
		for _, u := range result.Unknown {
			numbers = append(numbers, fmt.Sprintf("%s:%d", u.Arch, u.Number))
		}
		diags.AddWarning("Unnamed Syscalls Recorded",
			fmt.Sprintf("Recording %q made syscalls that the device's syscall tables have no name for (%s), so no "+
				"profile can allow them by name and a profile built from it denies them.",
				result.Name, strings.Join(numbers, ", ")))
	}
}

// setRecordingObserved stores the recording as the device holds it. The result also carries
// the workload, so an import reads it back. timeout_seconds and triggers keep their values, and
// so does a mechanism of auto, which Terraform requires to match the configuration.
func setRecordingObserved(ctx context.Context, m *seccompRecordingModel, target device.Target,
	found protocol.RecordingState) diag.Diagnostics {
	var diags diag.Diagnostics
	result := found.Result
	m.Container = types.StringValue(result.Container)
	m.DurationSeconds = types.Int64Null()
	m.Command = types.ListNull(types.StringType)
	if result.Workload == protocol.WorkloadStart {
		m.DurationSeconds = types.Int64Value(int64(result.DurationSeconds))
	} else {
		command, d := types.ListValueFrom(ctx, types.StringType, result.Command)
		diags.Append(d...)
		m.Command = command
	}
	if len(result.Runs) > 0 {
		m.Runs = types.Int64Value(int64(len(result.Runs)))
	}

	syscalls, counts, coverage, d := recordingResultMaps(result)
	diags.Append(d...)
	m.Syscalls, m.Counts, m.Coverage = syscalls, counts, coverage
	if m.Mechanism.ValueString() != protocol.MechanismAuto {
		m.Mechanism = types.StringValue(result.Mechanism)
	}
	m.Kernel = types.StringValue(result.Kernel)
	m.StartedAt = types.StringValue(result.StartedAt.UTC().Format(time.RFC3339))
	m.FinishedAt = types.StringValue(result.FinishedAt.UTC().Format(time.RFC3339))
	m.Path = types.StringValue(recordingResultPath(target.StateDir, m.Name.ValueString()))
	m.SHA256 = types.StringValue(found.SHA256)
	if m.ID.IsNull() || m.ID.IsUnknown() {
		m.ID = types.StringValue(seccompProfileID(target, m.Name.ValueString()))
	}
	return diags
}

// recordingResultMaps returns the syscalls, counts and coverage attributes of result.
func recordingResultMaps(result protocol.RecordingResult) (types.Map, types.Map, types.Map, diag.Diagnostics) {
	var diags diag.Diagnostics
	byABI := make(map[string]attr.Value, len(result.Syscalls))
	counts := map[string]attr.Value{}
	coverage := map[string]attr.Value{}
	for abi, recorded := range result.Syscalls {
		names := make([]string, 0, len(recorded))
		for _, syscall := range recorded {
			names = append(names, syscall.Name)
			key := abi + ":" + syscall.Name
			counts[key] = types.Int64Value(int64(syscall.Count))
			coverage[key] = types.Int64Value(int64(syscall.Runs))
		}
		set, d := seccompStringSet(names)
		diags.Append(d...)
		byABI[abi] = set
	}
	syscallsValue, d := types.MapValue(seccompRecordingSyscallsType.ElemType, byABI)
	diags.Append(d...)
	countsValue, d := types.MapValue(types.Int64Type, counts)
	diags.Append(d...)
	coverageValue, d := types.MapValue(types.Int64Type, coverage)
	diags.Append(d...)
	return syscallsValue, countsValue, coverageValue, diags
}

// recordingResultPath returns where the helper stores a recording's result.
func recordingResultPath(stateDir, name string) string {
	return path.Join(stateDir, "recordings", name, "result.json")
}
