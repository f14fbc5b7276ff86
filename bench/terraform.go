//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// terraformWaitDelay bounds how long an interrupted terraform may take to finish its
// in-flight operations before it is killed.
const terraformWaitDelay = time.Minute

// terraformRunner runs terraform commands with a fixed environment and keeps each command's
// output in its own file in logDir.
type terraformRunner struct {
	binary string
	env    []string
	logDir string
	tfLog  string
	count  int
}

// command is one terraform invocation.
type command struct {
	name      string   // file name part of its log, such as "apply-10"
	dir       string   // module folder, passed as -chdir
	cliConfig string   // TF_CLI_CONFIG_FILE
	extraEnv  []string // more environment, such as the wrapper's settings
	args      []string
}

func newTerraformRunner(binary, logDir, tfLog string) (*terraformRunner, error) {
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return nil, fmt.Errorf("create log folder: %w", err)
	}
	return &terraformRunner{binary: binary, env: terraformEnv(os.Environ()), logDir: logDir, tfLog: tfLog}, nil
}

// terraformEnv returns environ without the settings that would change what terraform or the
// provider does (TF_*, CHECKPOINT_*, IOTFLEET_*, SSH_AUTH_SOCK), plus the fixed ones.
func terraformEnv(environ []string) []string {
	var env []string
	for _, entry := range environ {
		name, _, _ := strings.Cut(entry, "=")
		if strings.HasPrefix(name, "TF_") || strings.HasPrefix(name, "CHECKPOINT_") ||
			strings.HasPrefix(name, "IOTFLEET_") || name == "SSH_AUTH_SOCK" {
			continue
		}
		env = append(env, entry)
	}
	return append(env, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0")
}

// run runs c and returns its wall time: from starting the terraform process until it exited.
// A non-zero exit status is an error, which carries the status and the end of the output.
func (t *terraformRunner) run(ctx context.Context, c command) (time.Duration, int, error) {
	t.count++
	base := filepath.Join(t.logDir, fmt.Sprintf("%02d-%s", t.count, c.name))
	output, err := os.Create(base + ".out")
	if err != nil {
		return 0, 0, fmt.Errorf("create output file of terraform %s: %w", c.name, err)
	}
	defer output.Close()

	cmd := exec.CommandContext(ctx, t.binary, append([]string{"-chdir=" + c.dir}, c.args...)...)
	cmd.Env = append(append(append([]string(nil), t.env...), "TF_CLI_CONFIG_FILE="+c.cliConfig), c.extraEnv...)
	if t.tfLog != "" {
		cmd.Env = append(cmd.Env, "TF_LOG="+t.tfLog, "TF_LOG_PATH="+base+".log")
	}
	cmd.Stdout, cmd.Stderr = output, output
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = terraformWaitDelay

	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start)

	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return elapsed, exitErr.ExitCode(), fmt.Errorf("terraform %s exited with status %d: %s",
			strings.Join(c.args, " "), exitErr.ExitCode(), tail(output.Name(), 12))
	}
	if err != nil {
		return elapsed, 0, fmt.Errorf("run terraform %s: %w", strings.Join(c.args, " "), err)
	}
	return elapsed, 0, nil
}

// output runs `terraform output -json name` in dir and returns what it prints.
func (t *terraformRunner) output(ctx context.Context, dir, cliConfig, name string) ([]byte, error) {
	return t.query(ctx, dir, cliConfig, "output", "-json", name)
}

// showState runs `terraform show -json` in dir and returns the state as JSON.
func (t *terraformRunner) showState(ctx context.Context, dir, cliConfig string) ([]byte, error) {
	return t.query(ctx, dir, cliConfig, "show", "-json")
}

// query runs a terraform command that only reads, and returns its standard output.
func (t *terraformRunner) query(ctx context.Context, dir, cliConfig string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, t.binary, append([]string{"-chdir=" + dir}, args...)...)
	cmd.Env = append(append([]string(nil), t.env...), "TF_CLI_CONFIG_FILE="+cliConfig)
	out, err := cmd.Output()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return nil, fmt.Errorf("terraform %s in %s: %w: %s", strings.Join(args, " "), dir, err,
			strings.TrimSpace(string(exitErr.Stderr)))
	}
	if err != nil {
		return nil, fmt.Errorf("terraform %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	return out, nil
}

// version returns the terraform version as `terraform version` prints it first.
func (t *terraformRunner) version(ctx context.Context) string {
	cmd := exec.CommandContext(ctx, t.binary, "version")
	cmd.Env = append(append([]string(nil), t.env...), "TF_CLI_CONFIG_FILE=/dev/null")
	out, err := cmd.Output()
	if err != nil {
		return "terraform (version unknown)"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}

// tail returns the last n non-empty lines of a file, joined by " | ".
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", path, err)
	}
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
