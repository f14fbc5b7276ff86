// Command iotfleet-helper runs on a device and carries out the provider's requests there.
//
// The provider runs it over SSH as "iotfleet-helper serve", writes one JSON request to its
// standard input and reads one JSON response from its standard output. Diagnostics go to
// standard error only.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/facts"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/liblxc"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/network"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/ops"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// version is the helper's release, set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: iotfleet-helper COMMAND

commands:
  version  print the helper version and the protocol version
  serve    read one JSON request from standard input and write one JSON response
  network-restore STATE_DIR LXC_PATH
           recreate the recorded container networks and start the autostart containers,
           as the boot hook does
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command in args and returns the exit code: 0 on success, 1 when the response
// could not be written, 2 for a usage error. Failed calls inside a request still exit 0, except
// that network-restore exits 1 when its operation fails.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == network.RestoreCommand {
		return restoreNetworks(args[1:], stdout, stderr)
	}
	if len(args) != 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version":
		fmt.Fprintf(stdout, "iotfleet-helper %s protocol %d\n", version, protocol.Version)
		return 0
	case protocol.ServeCommand:
		return serve(stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "iotfleet-helper: unknown command %q\n%s", args[0], usage)
		return 2
	}
}

func serve(stdin io.Reader, stdout, stderr io.Writer) int {
	// Signals that end a terminal session or a service cancel the calls not yet run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	// With a SIGPIPE handler, a write to a pipe without a reader fails with EPIPE. Without one,
	// the Go runtime kills the helper at its first write to a closed stdout or stderr, even in
	// the middle of a cleanup. A handler rather than signal.Ignore keeps SIGPIPE's default action
	// in the programs that the helper starts, and so in recorded workloads.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	log := slog.New(slog.NewTextHandler(stderr, nil)).With("helper_version", version)
	if out, ok := stdout.(*os.File); ok {
		watched, stopWatch, err := server.WatchHangup(ctx, out, log)
		if err != nil {
			log.Error("serve failed", "error", err)
			return 1
		}
		defer stopWatch()
		ctx = watched
	}
	registry := server.NewRegistry()
	ops.Device{Facts: facts.NewHost(liblxc.Version)}.Register(registry)
	ops.Profile{}.Register(registry)
	ops.NewNetwork().Register(registry)
	ops.Container{}.Register(registry)
	ops.Recording{}.Register(registry)
	srv := &server.Server{Registry: registry, HelperVersion: version, Log: log}

	if err := srv.Serve(ctx, stdin, stdout); err != nil {
		log.Error("serve failed", "error", err)
		return 1
	}
	return 0
}
