//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// loopResultFile is the loop workload's result file inside the container.
const loopResultFile = "/tmp/loop.json"

// measureOverhead starts the loop workload's container untraced and under each mechanism, one
// after the other in each repeat, and collects the loops' times.
func (b *bench) measureOverhead(ctx context.Context) (*overhead, error) {
	container := b.device.Name + "-loop"
	command := []string{"/" + benchFolder + "/loop", "-duration", b.opts.loopTime.String(), "-out", loopResultFile}
	if err := b.createContainer(ctx, container, command, map[string]string{"loop": b.binaries.loop}); err != nil {
		return nil, err
	}
	o := newOverhead(append([]string{untraced}, b.opts.mechanisms...))
	for repeat := range b.opts.repeats {
		for _, column := range runOrder(o.columns, repeat) {
			if o.rejected[column] != nil {
				continue
			}
			b.logf("overhead repeat %d of %d: %s", repeat+1, b.opts.repeats, column)
			loops, used, err := b.overheadRun(ctx, container, column)
			if isHelperError(err) {
				o.rejected[column] = err
				continue
			}
			if err != nil {
				return nil, err
			}
			if err := o.add(column, used, loops); err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

// overheadRun starts the container once, untraced or recorded by the mechanism that column
// names, and returns the loops and the mechanism that the recording result names.
func (b *bench) overheadRun(ctx context.Context, container, column string) ([]loopResult, string, error) {
	resultPath := filepath.Join(b.device.rootfs(container), loopResultFile)
	if err := os.Remove(resultPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("remove the loop result of the last run: %w", err)
	}
	used := ""
	if column == untraced {
		if err := b.device.startUntraced(ctx, container); err != nil {
			return nil, "", err
		}
	} else {
		result, err := b.device.record(ctx, container, column)
		if err != nil {
			return nil, "", err
		}
		used = result.Mechanism
	}
	data, err := os.ReadFile(resultPath)
	if err != nil {
		return nil, "", fmt.Errorf("read the loop result of the %s run: %w", column, err)
	}
	var decoded struct {
		Loops []loopResult `json:"loops"`
	}
	if err := json.Unmarshal(data, &decoded); err != nil {
		return nil, "", fmt.Errorf("decode the loop result %q of the %s run: %w", data, column, err)
	}
	return decoded.Loops, used, nil
}
