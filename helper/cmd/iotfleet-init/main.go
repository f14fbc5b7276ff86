// Command iotfleet-init is the first process of every container that the helper creates. LXC
// starts it as the workload's user with the container's capabilities and no_new_privs already
// in force. It reads the spec at initspec.SpecPath and replaces itself with the workload through
// execve(2), so it keeps no memory once the workload runs. With no workload it stays as a
// minimal PID 1 that reaps orphans and exits on SIGTERM, SIGINT or SIGPWR.
//
// It is built statically (CGO_ENABLED=0) for every architecture the helper supports and embedded
// in the helper, which bind-mounts it read-only into each container.
//
// For the eBPF recorder it can also wait before the exec (see initspec.HoldEnv), and run as
// "iotfleet-init --exec ARGV..." under lxc-attach to exec a recorded command.
package main

import (
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/initspec"
)

// Exit codes follow the shell's convention for a command that could not be run.
const (
	exitSpec     = 126
	exitNotFound = 127
)

// The main goroutine stays on the process's first thread, so that a process name set with
// prctl(PR_SET_NAME) shows in /proc/PID/comm.
func init() {
	runtime.LockOSThread()
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == initspec.ExecFlag {
		executeCommand(os.Args[2:])
		return
	}
	data, err := os.ReadFile(initspec.SpecPath)
	if err != nil {
		fail(exitSpec, "read spec: "+err.Error())
	}
	spec, err := initspec.Unmarshal(data)
	if err != nil {
		fail(exitSpec, err.Error())
	}
	// A filter that fails to load must not leave the workload running without it.
	if len(spec.SeccompFilter) > 0 {
		if err := loadSeccompFilter(spec.SeccompFilter); err != nil {
			fail(exitSpec, err.Error())
		}
	}
	waitForRecorder()
	if len(spec.Argv) == 0 {
		pause()
		return
	}
	execute(spec)
}

// execute changes to the working directory and execs the workload.
func execute(spec initspec.Spec) {
	if spec.Dir != "" {
		if err := os.Chdir(spec.Dir); err != nil {
			fail(exitSpec, "change to working directory: "+err.Error())
		}
	}
	path, err := initspec.LookPath(spec.Argv[0], lookupEnv(spec.Env, "PATH"), isExecutable)
	if err != nil {
		fail(exitNotFound, err.Error())
	}
	err = syscall.Exec(path, spec.Argv, spec.Env)
	fail(exitNotFound, "exec "+path+": "+err.Error())
}

// pause waits for a stop signal and reaps every child that exits meanwhile. The kernel ignores
// signals that PID 1 of a PID namespace has no handler for, so each one is handled explicitly.
func pause() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGPWR, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			return
		}
		reap()
	}
}

// reap collects every child that has exited.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func isExecutable(path string) bool {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return false
	}
	return st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Mode&0o111 != 0
}

// lookupEnv returns the value of key in env, or initspec.DefaultPath for an unset PATH.
func lookupEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if len(env[i]) > len(key) && env[i][:len(key)+1] == key+"=" {
			return env[i][len(key)+1:]
		}
	}
	if key == "PATH" {
		return initspec.DefaultPath
	}
	return ""
}

// fail writes message to standard error and exits. LXC connects standard error to the
// container's console, which is /dev/null unless a console log is configured. The init avoids
// package fmt to stay small.
func fail(code int, message string) {
	_, _ = os.Stderr.WriteString("iotfleet-init: " + message + "\n")
	os.Exit(code)
}
