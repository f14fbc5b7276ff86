//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// doneFile is the file, inside the container, that a workload creates as its last step, so
// that the benchmark can tell a run that completed from one that failed: lxc-start -F exits
// with 0 either way.
const doneFile = "/tmp/workload.done"

// shellScript is the shell workload: busybox's sh runs pipelines, a subshell in the
// background and several programs, each in a child process of its own. It sends its output
// to /dev/null itself, so that it runs the same whatever standard output strace or the
// recorder gives it.
const shellScript = `set -e
exec > /dev/null
ls /
cat /etc/passwd | wc -l
(echo background; sleep 0.1) &
wait $!
mkdir -p /tmp/shell && touch /tmp/shell/file && rm -r /tmp/shell
head -c 64 /dev/urandom | md5sum
date +%s
: > ` + doneFile + "\n"

// workload is one program whose container start the benchmark compares.
type workload struct {
	name    string
	title   string
	command []string
	// programs maps file names in the rootfs's /bench to the host's files.
	programs map[string]string
}

func completenessWorkloads(b binaries) []workload {
	list := []workload{
		{name: "shell", title: "shell script with child processes", command: []string{"/bin/sh", "-c", shellScript}},
		{
			name: "threads", title: "multi-threaded Go program (" + runtime.GOARCH + ")",
			command:  []string{"/" + benchFolder + "/threads", "-done", doneFile},
			programs: map[string]string{"threads": b.threads},
		},
	}
	if b.compat != "" {
		list = append(list, workload{
			name: "compat", title: "the same program built for the 32-bit compat ABI",
			command:  []string{"/" + benchFolder + "/threads", "-done", doneFile},
			programs: map[string]string{"threads": b.compat},
		})
	}
	return list
}

// workloadResult is the comparison of one workload with every mechanism.
type workloadResult struct {
	workload workload
	runs     int
	// straceWorkload holds strace's pairs after iotfleet-init executed the workload,
	// straceAll those from LXC's execve of iotfleet-init on.
	straceWorkload, straceAll pairRuns
	// unparsed counts strace's lines in no known form, over all runs. firstUnparsed is the
	// first of them.
	unparsed      int
	firstUnparsed string
	// undecoded counts the workload's calls that strace could not decode, over all runs.
	undecoded  int
	mechanisms []mechanismResult
}

// mechanismResult is the recording of one requested mechanism.
type mechanismResult struct {
	requested string
	// used lists the mechanisms that the results named.
	used []string
	// err is the helper's error when it rejected the request.
	err     error
	compare comparison
	unknown []string
}

// measureCompleteness runs every workload under strace and under each mechanism, runs times
// each.
func (b *bench) measureCompleteness(ctx context.Context) ([]workloadResult, error) {
	var results []workloadResult
	for _, w := range completenessWorkloads(b.binaries) {
		result, err := b.compareWorkload(ctx, w)
		if err != nil {
			return nil, fmt.Errorf("workload %s: %w", w.name, err)
		}
		results = append(results, result)
	}
	return results, nil
}

func (b *bench) compareWorkload(ctx context.Context, w workload) (workloadResult, error) {
	container := b.device.Name + "-" + w.name
	if err := b.createContainer(ctx, container, w.command, w.programs); err != nil {
		return workloadResult{}, err
	}
	result := workloadResult{workload: w, runs: b.opts.runs, straceWorkload: pairRuns{}, straceAll: pairRuns{}}
	for i := range b.opts.runs {
		b.logf("%s: strace run %d of %d", container, i+1, b.opts.runs)
		if err := b.straceRun(ctx, container, i, &result); err != nil {
			return workloadResult{}, err
		}
	}
	for _, mechanism := range b.opts.mechanisms {
		m, recorded, err := b.recordWorkload(ctx, container, mechanism)
		if err != nil {
			return workloadResult{}, err
		}
		if m.err == nil {
			m.compare = compare(result.straceWorkload, result.straceAll, recorded, b.opts.runs)
		}
		result.mechanisms = append(result.mechanisms, m)
	}
	return result, nil
}

// recordWorkload records the container runs times with one request per run, so that each
// run's completion can be checked, and returns the recorded pairs. When the helper rejects
// the mechanism, it returns the helper's error in m.err.
func (b *bench) recordWorkload(ctx context.Context, container, mechanism string) (m mechanismResult, recorded pairRuns, err error) {
	m = mechanismResult{requested: mechanism}
	recorded = pairRuns{}
	for i := range b.opts.runs {
		b.logf("%s: recording run %d of %d with mechanism %s", container, i+1, b.opts.runs, mechanism)
		var result protocol.RecordingResult
		err := b.checkedRun(container, func() (err error) {
			result, err = b.device.record(ctx, container, mechanism)
			return err
		})
		if isHelperError(err) {
			m.err = err
			return m, nil, nil
		}
		if err != nil {
			return m, nil, err
		}
		counts, unknown := recordedPairs(result)
		recorded.add(counts)
		m.unknown = appendNew(m.unknown, unknown...)
		m.used = appendNew(m.used, result.Mechanism)
	}
	return m, recorded, nil
}

// checkedRun runs one start of the container and returns an error unless the workload
// created doneFile.
func (b *bench) checkedRun(container string, start func() error) error {
	done := filepath.Join(b.device.rootfs(container), doneFile)
	if err := os.Remove(done); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s of the last run: %w", done, err)
	}
	if err := start(); err != nil {
		return err
	}
	if _, err := os.Stat(done); err != nil {
		return fmt.Errorf("container %s: the workload did not complete, because it did not create %s: %w",
			container, doneFile, err)
	}
	return nil
}

// straceRun runs the container once under strace and adds its pairs to result.
func (b *bench) straceRun(ctx context.Context, container string, run int, result *workloadResult) error {
	output := filepath.Join(b.workDir, fmt.Sprintf("strace-%s-%d.txt", result.workload.name, run+1))
	err := b.checkedRun(container, func() error {
		return b.device.straceStart(ctx, container, output)
	})
	if err != nil {
		return err
	}

	file, err := os.Open(output)
	if err != nil {
		return fmt.Errorf("read strace output: %w", err)
	}
	defer file.Close()
	trace, err := parseStrace(file, string(b.native))
	if err != nil {
		return err
	}

	for _, set := range []struct {
		exec int
		runs pairRuns
	}{{workloadExec, result.straceWorkload}, {initExec, result.straceAll}} {
		counts, undecoded, err := trace.pairsAfterExec(set.exec)
		if err != nil {
			return fmt.Errorf("%w (rerun with -keep to keep the output %s)", err, output)
		}
		set.runs.add(counts)
		if set.exec == workloadExec {
			result.undecoded += undecoded
		}
	}
	result.unparsed += len(trace.unparsed)
	if result.firstUnparsed == "" && len(trace.unparsed) > 0 {
		result.firstUnparsed = trace.unparsed[0]
	}
	return nil
}

// appendNew appends each value that list does not contain yet.
func appendNew(list []string, values ...string) []string {
	for _, v := range values {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

// nativeArch returns the recorder's name of this machine's native ABI.
func nativeArch() (seccomp.Arch, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return "", fmt.Errorf("read the machine name: %w", err)
	}
	return seccomp.ArchForMachine(unix.ByteSliceToString(uts.Machine[:]))
}
