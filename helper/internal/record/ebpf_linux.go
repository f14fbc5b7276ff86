//go:build linux

package record

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// ebpfCounter holds the loaded and attached programs of the eBPF recorder. Nothing is pinned,
// so the kernel frees the programs, links and maps once their file descriptors are closed:
// by Close, or by the kernel when the helper exits or is killed.
type ebpfCounter struct {
	abi        kernelABI
	collection *ebpf.Collection
	links      []link.Link
}

// tracepoints maps each raw tracepoint to the program attached to it.
var tracepoints = []struct{ name, program string }{
	{"sys_enter", sysEnterProgName},
	{"sched_process_fork", forkProgName},
	{"sched_process_exec", invalidateProgName},
	{"cgroup_attach_task", invalidateProgName},
}

// loadEBPF loads the recorder's maps and programs for a kernel whose native ABI is arch.
func loadEBPF(arch seccomp.Arch) (*ebpfCounter, error) {
	abi, err := kernelABIFor(arch)
	if err != nil {
		return nil, err
	}
	collection, err := newCollection(abi.collectionSpec())
	if err != nil {
		return nil, explainLoadError(abi, err)
	}
	return &ebpfCounter{abi: abi, collection: collection}, nil
}

// attach attaches the programs to their tracepoints. They count nothing until selectCgroup
// names a cgroup.
func (c *ebpfCounter) attach() error {
	for _, tracepoint := range tracepoints {
		attached, err := link.AttachRawTracepoint(link.RawTracepointOptions{
			Name: tracepoint.name, Program: c.collection.Programs[tracepoint.program],
		})
		if err != nil {
			return fmt.Errorf("attach a BPF program to the %s raw tracepoint: %w", tracepoint.name, err)
		}
		c.links = append(c.links, attached)
	}
	return nil
}

// newCollection loads spec. Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK, which is
// often 64 KiB or 8 MiB. On EPERM the limit is lifted for the load only and restored at once,
// so the containers that the helper starts next inherit the usual limit.
func newCollection(spec *ebpf.CollectionSpec) (*ebpf.Collection, error) {
	collection, err := ebpf.NewCollection(spec)
	if !errors.Is(err, unix.EPERM) {
		return collection, err
	}
	var limit unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &limit) != nil || limit.Cur == unix.RLIM_INFINITY {
		return nil, err
	}
	unlimited := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unlimited) != nil {
		return nil, err
	}
	collection, err = ebpf.NewCollection(spec)
	if restoreErr := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &limit); restoreErr != nil {
		if collection != nil {
			collection.Close()
		}
		return nil, fmt.Errorf("restore RLIMIT_MEMLOCK after loading BPF programs: %w", restoreErr)
	}
	return collection, err
}

// explainLoadError names the kernel feature whose absence made loading fail, found with
// cilium/ebpf's feature probes, or wraps err when every probe passes.
func explainLoadError(abi kernelABI, err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("load BPF programs: %w; the helper needs root (CAP_BPF and CAP_PERFMON, or "+
			"CAP_SYS_ADMIN) and a kernel without lockdown of BPF", err)
	}
	if probe := features.HaveProgramType(ebpf.RawTracepoint); probe != nil {
		return fmt.Errorf("the kernel cannot load BPF raw tracepoint programs (%v): it needs "+
			"CONFIG_BPF_SYSCALL, CONFIG_BPF_EVENTS and Linux 4.17 or later", probe)
	}
	helpers := []struct {
		fn   asm.BuiltinFunc
		need string
	}{
		{asm.FnCurrentTaskUnderCgroup, "CONFIG_CGROUPS"},
		{asm.FnProbeReadKernel, "Linux 5.5 or later"},
	}
	for _, helper := range helpers {
		if helper.fn == asm.FnProbeReadKernel && abi.compat == 0 {
			continue
		}
		if errors.Is(features.HaveProgramHelper(ebpf.RawTracepoint, helper.fn), ebpf.ErrNotSupported) {
			return fmt.Errorf("the kernel lacks the BPF helper %s for tracing programs: it needs %s",
				helper.fn, helper.need)
		}
	}
	for _, mapType := range []ebpf.MapType{ebpf.CGroupArray, ebpf.Array, ebpf.PerCPUArray, ebpf.Hash} {
		if errors.Is(features.HaveMapType(mapType), ebpf.ErrNotSupported) {
			return fmt.Errorf("the kernel lacks BPF maps of type %s", mapType)
		}
	}
	return fmt.Errorf("load BPF programs: %w", err)
}

// selectCgroup makes the programs count the tasks in the cgroup v2 folder dir and below it.
// A task that waits while the selection changes, as a workload's iotfleet-init does until the
// helper releases it, has its next call counted under the new selection.
func (c *ebpfCounter) selectCgroup(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	// The map keeps its own reference to the cgroup.
	defer unix.Close(fd)
	if err := c.collection.Maps[cgroupMapName].Put(uint32(0), uint32(fd)); err != nil {
		return fmt.Errorf("select cgroup %s for the BPF programs: %w", dir, err)
	}
	// The programs add to the epoch concurrently, so the helper cannot add to it atomically.
	// It writes a value past any that the programs reach meanwhile instead.
	epoch := c.collection.Maps[epochMapName]
	var value uint64
	if err := epoch.Lookup(uint32(0), &value); err != nil {
		return fmt.Errorf("read the BPF verdict epoch: %w", err)
	}
	if err := epoch.Put(uint32(0), value+selectionEpochStep); err != nil {
		return fmt.Errorf("invalidate the BPF verdict cache for cgroup %s: %w", dir, err)
	}
	return nil
}

// trace returns what the programs counted: the calls per ABI and number, and the processes
// and threads of the workload, counting the one that executed first.
func (c *ebpfCounter) trace() (Trace, error) {
	t := Trace{Counts: map[Call]uint64{}}
	var index uint32
	var perCPU []uint64
	counts := c.collection.Maps[countsMapName].Iterate()
	for counts.Next(&index, &perCPU) {
		var sum uint64
		for _, n := range perCPU {
			sum += n
		}
		if sum == 0 {
			continue
		}
		if call, ok := c.abi.callForSlot(index); ok {
			t.Counts[call] += sum
		} else if index == processesSlot {
			t.Processes += int(sum)
		}
	}
	if err := counts.Err(); err != nil {
		return Trace{}, fmt.Errorf("read BPF syscall counts: %w", err)
	}

	var key overflowKey
	var count uint64
	overflow := c.collection.Maps[overflowMapName].Iterate()
	for overflow.Next(&key, &count) {
		t.Counts[c.abi.callForOverflow(key)] += count
	}
	if err := overflow.Err(); err != nil {
		return Trace{}, fmt.Errorf("read BPF syscall counts: %w", err)
	}

	var gate gateValue
	if err := c.collection.Maps[gateMapName].Lookup(uint32(0), &gate); err != nil {
		return Trace{}, fmt.Errorf("read BPF gate: %w", err)
	}
	if gate.State != gateClosed {
		t.Processes++
	}
	return t, nil
}

// Close detaches the programs and frees them and their maps.
func (c *ebpfCounter) Close() error {
	var errs []error
	for _, attached := range c.links {
		errs = append(errs, attached.Close())
	}
	c.links = nil
	c.collection.Close()
	return errors.Join(errs...)
}
