//go:build linux

package record

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Selection tells the tracer from which exec on it counts a process's syscalls. Calls made
// before that are LXC's own setup, which a container's seccomp filter never sees.
type Selection int

const (
	// SelectContainerInit counts the container's init from its exec on: the process that is
	// PID 1 of a PID namespace below the helper's.
	SelectContainerInit Selection = iota

	// SelectAttached counts every process that executes a program inside a PID namespace below
	// the helper's: the command that lxc-attach starts in the container.
	SelectAttached
)

// Trace is the outcome of one traced program.
type Trace struct {
	// Counts holds how often the selected processes made each syscall.
	Counts map[Call]uint64

	// Status is the wait status of the program itself.
	Status unix.WaitStatus

	// Processes counts the processes and threads that the tracer followed.
	Processes int
}

// tracer follows one program and every process and thread it creates. Only the goroutine
// that started the program may call ptrace on its tracees, so run locks it to its thread.
type tracer struct {
	selection Selection
	// nsDepth is the number of PID namespaces that the helper is in.
	nsDepth int

	root      int
	rootReady bool
	tasks     map[int]*task
	// early holds new tasks that stopped before their parent's fork event told the tracer
	// whose they are; they stay stopped until that event.
	early map[int]bool
	trace Trace

	live liveSet
}

// task is one traced thread.
type task struct {
	selected bool
	// awaitingStop is set from the parent's fork event until the new task's first stop,
	// which the kernel sends as SIGSTOP and the tracer suppresses.
	awaitingStop bool
}

// liveSet holds the traced PIDs, so that another goroutine can kill them.
type liveSet struct {
	mu   sync.Mutex
	pids map[int]bool
	// selected is the first selected PID: the container's init or the attached command.
	selected int
}

// Started is a traced program that runs.
type Started struct {
	tracer *tracer
	done   chan struct{}
	err    error
}

// Start starts argv as a traced child in a new goroutine locked to its thread and returns at
// once. argv[0] must be an absolute path. stderr receives the program's standard error.
func Start(argv []string, stderr *os.File, selection Selection) (*Started, error) {
	depth, err := pidNamespaceDepth("self")
	if err != nil {
		return nil, err
	}
	t := &tracer{
		selection: selection, nsDepth: depth,
		tasks: map[int]*task{}, early: map[int]bool{},
		trace: Trace{Counts: map[Call]uint64{}},
		live:  liveSet{pids: map[int]bool{}},
	}
	s := &Started{tracer: t, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		defer close(s.done)
		// The thread stays locked when run fails: its exit then kills the tracees
		// (PTRACE_O_EXITKILL) instead of leaving them stopped.
		runtime.LockOSThread()
		if err := t.start(argv, stderr); err != nil {
			started <- err
			return
		}
		started <- nil
		s.err = t.run()
		if s.err == nil {
			runtime.UnlockOSThread()
		}
	}()
	if err := <-started; err != nil {
		<-s.done
		return nil, err
	}
	return s, nil
}

// Done is closed when every traced process has exited.
func (s *Started) Done() <-chan struct{} { return s.done }

// Result returns the trace once Done is closed.
func (s *Started) Result() (Trace, error) {
	<-s.done
	return s.tracer.trace, s.err
}

// SelectedPID returns the host PID of the first selected process, or 0 before it executed.
func (s *Started) SelectedPID() int {
	s.tracer.live.mu.Lock()
	defer s.tracer.live.mu.Unlock()
	return s.tracer.live.selected
}

// KillSelected sends SIGKILL to the first selected process: the container's init, whose death
// makes LXC stop the container and clean up, or the attached command.
func (s *Started) KillSelected() {
	if pid := s.SelectedPID(); pid > 0 {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

// KillAll sends SIGKILL to every traced process.
func (s *Started) KillAll() {
	s.tracer.live.mu.Lock()
	defer s.tracer.live.mu.Unlock()
	for pid := range s.tracer.live.pids {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

func (t *tracer) start(argv []string, stderr *os.File) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the helper's executable: %w", err)
	}
	// Read-write, because a workload that writes to its standard output must not fail with
	// EBADF and take another path than it would outside the recording.
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devNull.Close()
	process, err := os.StartProcess(self, append([]string{tracedArg0}, argv...), &os.ProcAttr{
		Files: []*os.File{devNull, devNull, stderr},
		Sys:   &syscall.SysProcAttr{Ptrace: true, Setpgid: true},
	})
	if err != nil {
		return fmt.Errorf("start traced %s: %w", argv[0], err)
	}
	t.root = process.Pid
	t.addLive(process.Pid)
	_ = process.Release()
	return nil
}

// run handles stops until no tracee is left.
func (t *tracer) run() error {
	for {
		var status unix.WaitStatus
		// __WNOTHREAD limits the wait to this thread's children and tracees, so it never
		// reaps a process that another goroutine of the helper started.
		pid, err := unix.Wait4(-1, &status, unix.WALL|unix.WNOTHREAD, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ECHILD):
			return nil
		case err != nil:
			return fmt.Errorf("wait for traced processes: %w", err)
		}
		if err := t.handle(pid, status); err != nil {
			return err
		}
	}
}

func (t *tracer) handle(pid int, status unix.WaitStatus) error {
	if status.Exited() || status.Signaled() {
		delete(t.tasks, pid)
		t.removeLive(pid)
		if pid == t.root {
			t.trace.Status = status
		}
		return nil
	}
	if !status.Stopped() {
		return nil
	}
	if pid == t.root && !t.rootReady {
		return t.prepareRoot(pid)
	}
	current := t.tasks[pid]
	if current == nil {
		// A new task's first stop came before its parent's fork event.
		t.early[pid] = true
		return nil
	}
	switch status.TrapCause() {
	case unix.PTRACE_EVENT_SECCOMP:
		t.count(pid, current)
	case unix.PTRACE_EVENT_FORK, unix.PTRACE_EVENT_VFORK, unix.PTRACE_EVENT_CLONE:
		t.adopt(pid, current)
	case unix.PTRACE_EVENT_EXEC:
		t.executed(pid, current)
	case -1:
		t.forwardSignal(pid, current, status.StopSignal())
		return nil
	}
	resume(pid, 0)
	return nil
}

// prepareRoot sets the trace options at the root's first stop, the SIGTRAP after its exec.
func (t *tracer) prepareRoot(pid int) error {
	if err := unix.PtraceSetOptions(pid, traceOptions); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		return fmt.Errorf("set ptrace options on process %d: %w", pid, err)
	}
	t.rootReady = true
	t.tasks[pid] = &task{}
	t.trace.Processes++
	resume(pid, 0)
	return nil
}

func (t *tracer) count(pid int, current *task) {
	if !current.selected {
		return
	}
	call, err := getSyscallInfo(pid)
	if err != nil {
		// The task was killed while stopped; wait4 reports its exit next.
		return
	}
	t.trace.Counts[call]++
}

// adopt registers the child of a fork, vfork or clone event with its parent's selection,
// because the child inherits its parent's seccomp filter, and releases it if it already
// stopped.
func (t *tracer) adopt(pid int, parent *task) {
	message, err := unix.PtraceGetEventMsg(pid)
	if err != nil {
		return
	}
	child := int(message)
	t.tasks[child] = &task{selected: parent.selected, awaitingStop: true}
	t.trace.Processes++
	t.addLive(child)
	if t.early[child] {
		delete(t.early, child)
		t.tasks[child].awaitingStop = false
		resume(child, 0)
	}
}

// executed selects a process at the exec that starts the container's program.
func (t *tracer) executed(pid int, current *task) {
	// A thread other than the leader that executes takes over the leader's PID; the event
	// message is its former thread ID.
	if former, err := unix.PtraceGetEventMsg(pid); err == nil && int(former) != pid {
		if moved := t.tasks[int(former)]; moved != nil {
			current.selected = current.selected || moved.selected
			delete(t.tasks, int(former))
			t.removeLive(int(former))
		}
	}
	if current.selected || !t.selects(pid) {
		return
	}
	current.selected = true
	t.live.mu.Lock()
	if t.live.selected == 0 {
		t.live.selected = pid
	}
	t.live.mu.Unlock()
}

func (t *tracer) selects(pid int) bool {
	pids, err := namespacePIDs(fmt.Sprint(pid))
	if err != nil || len(pids) <= t.nsDepth {
		return false
	}
	if t.selection == SelectContainerInit {
		return pids[len(pids)-1] == "1"
	}
	return true
}

// forwardSignal resumes a task stopped by a signal. It suppresses the SIGSTOP that starts a
// new task and restarts a group-stop, so a stop signal halts no tracee while recording.
func (t *tracer) forwardSignal(pid int, current *task, signal unix.Signal) {
	if signal == unix.SIGSTOP && current.awaitingStop {
		current.awaitingStop = false
		resume(pid, 0)
		return
	}
	if isGroupStop(pid) {
		resume(pid, 0)
		return
	}
	resume(pid, signal)
}

func (t *tracer) addLive(pid int) {
	t.live.mu.Lock()
	t.live.pids[pid] = true
	t.live.mu.Unlock()
}

func (t *tracer) removeLive(pid int) {
	t.live.mu.Lock()
	delete(t.live.pids, pid)
	t.live.mu.Unlock()
}

// namespacePIDs returns the NSpid line of /proc/<pid>/status: the process's PID in each PID
// namespace it is in, outermost first.
func namespacePIDs(pid string) ([]string, error) {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return nil, fmt.Errorf("read status of process %s: %w", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			return strings.Fields(rest), nil
		}
	}
	return nil, fmt.Errorf("status of process %s has no NSpid line: the kernel is older than 4.1", pid)
}

func pidNamespaceDepth(pid string) (int, error) {
	pids, err := namespacePIDs(pid)
	return len(pids), err
}
