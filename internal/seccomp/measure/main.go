//go:build linux

// Command measure measures the runtime base of seccomp profiles: the syscalls that LXC makes
// after it loads a container's seccomp filter, and those that the container's busybox init
// makes, so that every profile can allow them.
//
// It starts a throwaway local device. In it, each run creates busybox containers hardened as
// the provider's containers are (idmap, no_new_privs, no network, memory and pids limits). It
// starts each under strace, once with lxc-start -F and once daemonized, attaches a command
// twice, and stops it. A permissive policy makes LXC load a filter, so the trace shows
// where the filter starts to apply. Every call made after that by the process that loaded it,
// or by its descendants, is sorted into a stage. The stages of all runs are joined, because
// some calls occur in one run and not in the next.
//
// The containers run busybox init, as lxc-create -t busybox sets it up, and with -init also
// the given static init binary in its idle mode (the helper's iotfleet-init: no workload, exit
// on SIGPWR), which LXC runs from /dev/.iotfleet/init as the helper's containers do.
//
// Usage, as root, from the repository root:
//
//	(cd helper && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /tmp/iotfleet-init ./cmd/iotfleet-init)
//	go run ./internal/seccomp/measure -runs 5 -init /tmp/iotfleet-init \
//		-write internal/seccomp/runtime_base_measured.go
//
// Without -write it prints the file it would write. It needs lxc, strace, busybox and what
// local devices need (see internal/localdevice).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

type options struct {
	runs   int
	write  string
	attach []string
	init   string
	// initSource is -init as given; init becomes the copy that the runs use.
	initSource string
	settle     time.Duration
	keep       bool
}

func parseOptions(args []string) (options, error) {
	var opts options
	flags := flag.NewFlagSet("measure", flag.ContinueOnError)
	flags.IntVar(&opts.runs, "runs", 3, "runs to join; each run starts the container once in the foreground and once daemonized")
	flags.StringVar(&opts.write, "write", "", "write the Go file to this path instead of printing it")
	attach := flags.String("attach", "sleep 1", "command to attach in each run, split at spaces")
	flags.StringVar(&opts.init, "init", "", "static init binary to measure next to busybox init, such as iotfleet-init")
	flags.DurationVar(&opts.settle, "settle", 2*time.Second, "wait after start before attaching, so that init finishes its start work")
	flags.BoolVar(&opts.keep, "keep", false, "keep the traces in a temporary folder and print its path")
	if err := flags.Parse(args); err != nil {
		return options{}, err
	}
	opts.attach = strings.Fields(*attach)
	switch {
	case opts.runs < 1:
		return options{}, fmt.Errorf("invalid -runs %d: use 1 or more", opts.runs)
	case len(opts.attach) == 0:
		return options{}, errors.New("invalid -attach: give a command, such as \"sleep 1\"")
	case flags.NArg() > 0:
		return options{}, fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	opts.initSource = opts.init
	if opts.init != "" {
		// The device's mount namespace shows the host's files, but nsenter starts commands in /.
		abs, err := filepath.Abs(opts.init)
		if err != nil {
			return options{}, fmt.Errorf("invalid -init %q: %w", opts.init, err)
		}
		opts.init = abs
	}
	return opts, nil
}

func run(ctx context.Context, args []string) error {
	opts, err := parseOptions(args)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("must run as root: it starts a local device and LXC containers")
	}

	workDir, err := os.MkdirTemp("", "iotf-measure-")
	if err != nil {
		return fmt.Errorf("create work folder: %w", err)
	}
	if opts.keep {
		fmt.Fprintln(os.Stderr, "measure: traces are kept in", workDir)
	} else {
		defer os.RemoveAll(workDir)
	}

	if opts.init != "" {
		// Every run uses this copy, so a rebuild of the binary during the runs changes nothing.
		if opts.init, err = copyFile(opts.init, filepath.Join(workDir, initBinaryName)); err != nil {
			return err
		}
	}
	m, err := startMeasurer(ctx, workDir)
	if err != nil {
		return err
	}
	defer m.close()

	inits := []initVariant{busyboxInit}
	if opts.init != "" {
		inits = append(inits, initVariant{name: initBinaryName, binary: opts.init})
	}
	results := newResults()
	for i := range opts.runs {
		for _, init := range inits {
			for _, config := range configVariants {
				for _, mode := range []startMode{foreground, daemonized} {
					c := containerSpec{name: fmt.Sprintf("m%d-%s-%s-%s", i, init.name, config.name, mode),
						mode: mode, init: init, config: config}
					r, err := m.measureRun(ctx, c, opts)
					if err != nil {
						return fmt.Errorf("run %d (%s, %s, %s): %w", i+1, init.name, config.name, mode, err)
					}
					results.add(c, r)
				}
			}
		}
		fmt.Fprintf(os.Stderr, "measure: run %d of %d done\n", i+1, opts.runs)
	}

	provenance, err := m.provenance(ctx, opts)
	if err != nil {
		return err
	}
	results.printSummary(os.Stderr)
	source, err := renderGoFile(results.stages(), provenance)
	if err != nil {
		return err
	}
	if opts.write == "" {
		_, err = os.Stdout.Write(source)
		return err
	}
	return os.WriteFile(opts.write, source, 0o644)
}

// provenance collects the versions that the generated file's comment names.
func (m *measurer) provenance(ctx context.Context, opts options) (provenance, error) {
	p := provenance{
		Command: "go run ./internal/seccomp/measure -runs " + fmt.Sprint(opts.runs),
		Runs:    opts.runs,
		Attach:  strings.Join(opts.attach, " "),
		Init:    initBinaryName + " (not measured)",
	}
	if opts.attach[0] != "sleep" || len(opts.attach) != 2 || opts.attach[1] != "1" {
		p.Command += fmt.Sprintf(" -attach %q", p.Attach)
	}
	if opts.init != "" {
		sum, err := fileSHA256(opts.init)
		if err != nil {
			return provenance{}, err
		}
		p.Command += " -init " + opts.initSource
		p.Init = fmt.Sprintf("%s with SHA-256 %s", initBinaryName, sum)
	}
	p.CgroupLayout = "hybrid or v1"
	if m.cgroupKey == "lxc.cgroup2" {
		p.CgroupLayout = "v2"
	}
	fields := []struct {
		value *string
		argv  []string
	}{
		{&p.Arch, []string{"uname", "-m"}},
		{&p.Kernel, []string{"uname", "-r"}},
		{&p.LXCVersion, []string{"lxc-start", "--version"}},
		{&p.Strace, []string{"strace", "-V"}},
		{&p.Busybox, []string{"busybox"}},
	}
	for _, f := range fields {
		out, err := m.exec(ctx, f.argv...)
		if err != nil {
			return provenance{}, err
		}
		*f.value, _, _ = strings.Cut(out, "\n")
	}
	p.Strace = strings.TrimSuffix(strings.TrimPrefix(p.Strace, "strace -- version "), ".")
	p.Strace = "strace " + p.Strace
	p.Busybox, _, _ = strings.Cut(p.Busybox, " (")
	return p, nil
}

// copyFile copies the executable from to the path to and returns to.
func copyFile(from, to string) (string, error) {
	data, err := os.ReadFile(from)
	if err != nil {
		return "", fmt.Errorf("copy init binary: %w", err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		return "", fmt.Errorf("copy init binary: %w", err)
	}
	return to, nil
}
