package main

import (
	"os"
	"os/signal"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/initspec"
)

// waitForRecorder waits for initspec.HoldSignal when the environment sets initspec.HoldEnv,
// and returns at once otherwise. A stop signal that comes first ends the process, as it would
// end the workload.
func waitForRecorder() {
	if os.Getenv(initspec.HoldEnv) == "" {
		return
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, initspec.HoldSignal, syscall.SIGTERM, syscall.SIGINT, syscall.SIGPWR)
	// The new name shows the recorder that HoldSignal is handled from now on.
	name := append([]byte(initspec.HoldName), 0)
	if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0); err != nil {
		fail(exitSpec, "set process name for the recorder: "+err.Error())
	}
	received := <-signals
	signal.Stop(signals)
	if received != initspec.HoldSignal {
		os.Exit(128 + int(received.(syscall.Signal)))
	}
}

// executeCommand execs argv with the init's environment minus initspec.HoldEnv, after waiting
// for the recorder. lxc-attach has already set the environment, user and working directory.
func executeCommand(argv []string) {
	if len(argv) == 0 {
		fail(exitSpec, initspec.ExecFlag+" needs a command")
	}
	waitForRecorder()
	env := initspec.WithoutHold(os.Environ())
	path, err := initspec.LookPath(argv[0], lookupEnv(env, "PATH"), isExecutable)
	if err != nil {
		fail(exitNotFound, err.Error())
	}
	err = syscall.Exec(path, argv, env)
	fail(exitNotFound, "exec "+path+": "+err.Error())
}
