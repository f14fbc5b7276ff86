//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// workloadPackage is the import path prefix of the workload programs, relative to the
// repository.
const workloadPackage = "./bench/record/workload/"

// compatGOARCH maps the GOARCH of this machine to the GOARCH of its 32-bit compat ABI.
var compatGOARCH = map[string][]string{
	"amd64": {"GOARCH=386"},
	"arm64": {"GOARCH=arm", "GOARM=7"},
}

// binaries are the programs that the benchmark builds: the helper and the workloads.
type binaries struct {
	helper  string
	loop    string
	threads string
	// compat is the threads workload for the 32-bit compat ABI, or "" where there is none.
	compat string
}

// buildBinaries builds the helper from repo/helper, as `go build` in that folder does, and
// the static workload programs, into dir.
func buildBinaries(ctx context.Context, repo, dir string) (binaries, error) {
	b := binaries{
		helper:  filepath.Join(dir, "iotfleet-helper"),
		loop:    filepath.Join(dir, "loop"),
		threads: filepath.Join(dir, "threads"),
	}
	// The helper links liblxc through cgo, which `make deps` installs. The environment's Go
	// settings apply unchanged.
	if err := goBuild(ctx, filepath.Join(repo, "helper"), b.helper, ".", nil); err != nil {
		return binaries{}, fmt.Errorf("build the helper: %w", err)
	}
	static := []string{"CGO_ENABLED=0", "GOOS=linux"}
	if err := goBuild(ctx, repo, b.loop, workloadPackage+"loop", static); err != nil {
		return binaries{}, fmt.Errorf("build the loop workload: %w", err)
	}
	if err := goBuild(ctx, repo, b.threads, workloadPackage+"threads", static); err != nil {
		return binaries{}, fmt.Errorf("build the threads workload: %w", err)
	}
	if compat, ok := compatGOARCH[runtime.GOARCH]; ok {
		b.compat = filepath.Join(dir, "threads-compat")
		if err := goBuild(ctx, repo, b.compat, workloadPackage+"threads", append(static, compat...)); err != nil {
			return binaries{}, fmt.Errorf("build the 32-bit threads workload: %w", err)
		}
	}
	return b, nil
}

func goBuild(ctx context.Context, dir, output, pkg string, env []string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", output, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %w\n%s", pkg, dir, err, strings.TrimSpace(string(out)))
	}
	return nil
}
