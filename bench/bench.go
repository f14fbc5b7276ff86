//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

// cleanupTimeout bounds stopping the device, which also destroys containers left behind.
const cleanupTimeout = 2 * time.Minute

// bench is one benchmark run: its work folder, its Terraform runner and its local device.
type bench struct {
	opts     options
	progress io.Writer

	workDir       string
	deviceDir     string // module with the device and the anchor container
	containersDir string // module with the measured containers
	directCLI     string // CLI configuration that starts the copied provider
	wrappedCLI    string // CLI configuration that starts it through the memory wrapper
	provider      string // copy of the provider binary
	rusageFile    string

	tf          *terraformRunner
	device      *localdevice.Device
	environment environment
}

// environment describes where the figures were taken, for the report's header.
type environment struct {
	terraform string
	cpus      int
	kernel    string
	provider  string
	noBashrc  bool
}

// newBench creates the work folder with a copy of the provider, so that a rebuild of bin/
// during the run does not change what is measured, and a wrapper link for the memory pass.
func newBench(ctx context.Context, opts options, progress io.Writer) (*bench, error) {
	workDir, err := os.MkdirTemp("", "iotf-bench-")
	if err != nil {
		return nil, fmt.Errorf("create work folder: %w", err)
	}
	b := &bench{
		opts:          opts,
		progress:      progress,
		workDir:       workDir,
		deviceDir:     filepath.Join(workDir, "device"),
		containersDir: filepath.Join(workDir, "containers"),
		directCLI:     filepath.Join(workDir, "direct.tfrc"),
		wrappedCLI:    filepath.Join(workDir, "wrapped.tfrc"),
		provider:      filepath.Join(workDir, "direct", providerName),
		rusageFile:    filepath.Join(workDir, "rusage"),
	}
	if err := b.prepare(ctx); err != nil {
		return nil, errors.Join(err, b.removeWorkDir())
	}
	return b, nil
}

func (b *bench) prepare(ctx context.Context) error {
	if err := copyExecutable(b.opts.provider, b.provider); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the bench binary for the memory wrapper: %w", err)
	}
	wrapperDir := filepath.Join(b.workDir, "wrapped")
	if err := os.MkdirAll(wrapperDir, 0o700); err != nil {
		return fmt.Errorf("create wrapper folder: %w", err)
	}
	if err := os.Symlink(self, filepath.Join(wrapperDir, providerName)); err != nil {
		return fmt.Errorf("create memory wrapper: %w", err)
	}
	if err := writeCLIConfig(b.directCLI, filepath.Dir(b.provider)); err != nil {
		return err
	}
	if err := writeCLIConfig(b.wrappedCLI, wrapperDir); err != nil {
		return err
	}

	b.tf, err = newTerraformRunner(b.opts.terraform, filepath.Join(b.workDir, "logs"), b.opts.tfLog)
	if err != nil {
		return err
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	b.environment = environment{
		terraform: b.tf.version(ctx),
		cpus:      runtime.NumCPU(),
		kernel:    strings.TrimSpace(string(kernel)),
		provider:  b.opts.provider,
		noBashrc:  b.opts.noBashrc,
	}
	return nil
}

// copyExecutable copies the file src to dst, creating dst's folder.
func copyExecutable(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("copy provider: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("copy provider: %w", err)
	}
	if err := os.WriteFile(dst, data, 0o700); err != nil {
		return fmt.Errorf("copy provider: %w", err)
	}
	return nil
}

// startDevice starts a local device whose name is unique to this process. The containers are
// named after it too: LXC names their cgroups after them, and every local device shares the
// machine's cgroup tree.
func (b *bench) startDevice(ctx context.Context) error {
	name := fmt.Sprintf("bench%d", os.Getpid()%100000)
	b.logf("starting local device %s", name)
	device, err := localdevice.Start(ctx, localdevice.Options{Name: name})
	if err != nil {
		return err
	}
	b.device = device
	if b.opts.noBashrc {
		return b.hideBashrc(ctx)
	}
	return nil
}

// hideBashrc mounts /dev/null over root's ~/.bashrc in the device's mount namespace, which
// sshd's children inherit. bash reads that file when sshd starts it for a command. The
// host's file stays as it is.
func (b *bench) hideBashrc(ctx context.Context) error {
	root, err := user.Lookup("root")
	if err != nil {
		return fmt.Errorf("find root's home folder: %w", err)
	}
	bashrc := filepath.Join(root.HomeDir, ".bashrc")
	if _, err := os.Stat(bashrc); err != nil {
		b.logf("-no-bashrc: %s does not exist; nothing to hide", bashrc)
		return nil
	}
	if _, err := b.device.Exec(ctx, "mount", "--bind", "/dev/null", bashrc); err != nil {
		return fmt.Errorf("hide %s on the device: %w", bashrc, err)
	}
	b.logf("-no-bashrc: hid %s inside device %s", bashrc, b.device.Name)
	return nil
}

// setUpDevice installs the helper, then adds the anchor container, and measures the device's
// disk usage after each step. It writes the containers module with the device's target, as
// the device resource reports it.
func (b *bench) setUpDevice(ctx context.Context, storage *storageUse) error {
	vars := map[string]any{
		"anchor":           false,
		"name_prefix":      b.device.Name,
		"host":             b.device.Address(),
		"port":             b.device.Port,
		"host_key":         b.device.HostPublicKey,
		"private_key_file": b.device.ClientKeyPath,
	}
	var err error
	for _, anchor := range []bool{false, true} {
		vars["anchor"] = anchor
		if err := writeModule(b.deviceDir, deviceConfig, vars); err != nil {
			return err
		}
		if err := b.applyDevice(ctx, anchor); err != nil {
			return err
		}
		usage := &storage.helperOnly
		if anchor {
			usage = &storage.withAnchor
		}
		if *usage, err = b.diskUsage(ctx); err != nil {
			return err
		}
	}

	target, err := b.tf.output(ctx, b.deviceDir, b.directCLI, "target")
	if err != nil {
		return err
	}
	return writeModule(b.containersDir, containersConfig, map[string]any{
		"device":           json.RawMessage(target),
		"name_prefix":      b.device.Name,
		"private_key_file": b.device.ClientKeyPath,
	})
}

func (b *bench) applyDevice(ctx context.Context, anchor bool) error {
	what := "installed the helper"
	if anchor {
		what = "created the anchor container and the busybox base"
	}
	elapsed, _, err := b.tf.run(ctx, command{
		name: "device", dir: b.deviceDir, cliConfig: b.directCLI,
		args: []string{"apply", "-auto-approve", "-input=false", "-no-color"},
	})
	if ctx.Err() != nil {
		return fmt.Errorf("set up the device: interrupted: %w", ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("set up the device: %w", err)
	}
	b.logf("set-up: %s in %.2f s (not counted)", what, elapsed.Seconds())
	return nil
}

// cleanup stops the device, which destroys every container still on it, and removes the work
// folder unless it is to be kept. It runs on success, failure and interrupt alike.
func (b *bench) cleanup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()

	var errs []error
	if b.device != nil {
		b.logf("stopping local device %s", b.device.Name)
		if err := b.device.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop local device %s: %w; run `bin/localdevice stop -name %s`",
				b.device.Name, err, b.device.Name))
		}
	}
	if b.opts.keep {
		b.logf("kept the work folder %s", b.workDir)
	} else if err := b.removeWorkDir(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (b *bench) removeWorkDir() error {
	if err := os.RemoveAll(b.workDir); err != nil {
		return fmt.Errorf("remove work folder: %w", err)
	}
	return nil
}

// logf prints one progress line.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: "+format+"\n", args...)
}
