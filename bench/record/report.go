//go:build linux

package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// ebpfTarget is the overhead ratio given to the project as the eBPF recorder's target on
// this machine. It was not measured by this program.
const ebpfTarget = 1.6

// printReport writes both sets of figures.
func printReport(w io.Writer, env environment, opts options, r *results) error {
	fmt.Fprintf(w, "\nSyscall recording benchmark: kernel %s, %d CPUs, %s; helper and workloads built from %s\n",
		env.kernel, env.cpus, env.strace, env.source)
	if err := printCompleteness(w, opts, r.completeness); err != nil {
		return err
	}
	return printOverhead(w, opts, r.overhead)
}

func printCompleteness(w io.Writer, opts options, workloads []workloadResult) error {
	fmt.Fprintf(w, `
Completeness against strace. Each workload's container starts with lxc-start -F and its
seccomp policy cleared, %d times under strace %s
and %d times under each mechanism, one recording request per run. Compared are (ABI, syscall)
pairs. The container's init is iotfleet-init, which LXC executes and which then executes the
workload. strace's workload pairs are the calls after that second execve of the init,
together with every call of the processes and threads created after it; LXC's steps before,
the LXC monitor and iotfleet-init are left out. "missed" lists the workload pairs that the
mechanism did not report. "extra" lists the reported pairs that strace did not see from
LXC's execve of iotfleet-init on, and "iotfleet-init only" those that only iotfleet-init
made: a mechanism may start at either execve. "~" marks a pair that only some runs of its
side made, which may come from timing rather than from the mechanism.
`, opts.runs, strings.Join(straceArgs, " "), opts.runs)
	table := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(table, "\nworkload\tstrace pairs\tmechanism\trecorded\tboth\tmissed\textra\tiotfleet-init only")
	for _, wr := range workloads {
		for _, m := range wr.mechanisms {
			if m.err != nil {
				fmt.Fprintf(table, "%s\t%d\t%s\tunavailable\t-\t-\t-\t-\n", wr.workload.name,
					len(wr.straceWorkload), m.requested)
				continue
			}
			c := m.compare
			fmt.Fprintf(table, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\n", wr.workload.name, len(wr.straceWorkload),
				usedMechanism(m.requested, m.used), len(c.recorded), c.common, len(c.missed), len(c.extra), len(c.initOnly))
		}
	}
	if err := table.Flush(); err != nil {
		return err
	}
	for _, wr := range workloads {
		printDifferences(w, wr)
	}
	return nil
}

func printDifferences(w io.Writer, wr workloadResult) {
	fmt.Fprintf(w, "\n%s: %s\n", wr.workload.name, wr.workload.title)
	for _, m := range wr.mechanisms {
		if m.err != nil {
			fmt.Fprintf(w, "  %s: unavailable: %v\n", m.requested, m.err)
			continue
		}
		c := m.compare
		label := usedMechanism(m.requested, m.used)
		fmt.Fprintf(w, "  %s missed: %s\n", label, listOrNone(formatPairs(c.missed, c.workload, c.runs)))
		fmt.Fprintf(w, "  %s extra: %s\n", label, listOrNone(formatPairs(c.extra, c.recorded, c.runs)))
		if len(c.initOnly) > 0 {
			fmt.Fprintf(w, "  %s iotfleet-init only: %s\n", label, strings.Join(formatPairs(c.initOnly, c.recorded, c.runs), " "))
		}
		if len(m.unknown) > 0 {
			fmt.Fprintf(w, "  %s numbers without a name: %s\n", label, strings.Join(m.unknown, " "))
		}
	}
	if unnamed := unnamedPairs(wr.straceAll); len(unnamed) > 0 {
		fmt.Fprintf(w, "  strace names missing from the ABI's syscall table, so no mechanism can report them "+
			"by that name: %s\n", strings.Join(formatPairs(unnamed, wr.straceAll, wr.runs), " "))
	}
	if wr.undecoded > 0 {
		fmt.Fprintf(w, "  strace could not decode %d calls of the workload (\"???\"), which are left out\n", wr.undecoded)
	}
	if wr.unparsed > 0 {
		fmt.Fprintf(w, "  %d strace lines were in no known form and were skipped, such as: %s\n",
			wr.unparsed, wr.firstUnparsed)
	}
}

func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, " ")
}

func printOverhead(w io.Writer, opts options, o *overhead) error {
	fmt.Fprintf(w, `
Overhead. The loop workload runs as the container's program and times each loop for at least
%s per run: getppid, and a read of 64 bytes from /dev/zero followed by a write to /dev/null.
Nanoseconds per call, median of %d runs (min-max), with the columns interleaved; the ratio is
the median divided by the untraced median. Untraced is the same container started with
lxc-start -F and no recorder.
`, opts.loopTime, opts.repeats)
	table := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	header := "loop\t"
	for _, column := range o.columns {
		header += fmt.Sprintf("%s ns/call\t", usedMechanism(column, o.used[column]))
		if column != untraced {
			header += "ratio\t"
		}
	}
	fmt.Fprintln(table, "\n"+header)
	for _, loop := range o.loops {
		fmt.Fprint(table, loop+"\t")
		for _, column := range o.columns {
			printOverheadCell(table, o, column, loop)
		}
		fmt.Fprintln(table)
	}
	if err := table.Flush(); err != nil {
		return err
	}
	for _, column := range o.columns {
		if err := o.rejected[column]; err != nil {
			fmt.Fprintf(w, "%s: unavailable: %v\n", column, err)
		}
	}
	fmt.Fprintf(w, "Target given to the project, not measured here: ebpf at most %.1fx untraced.\n", ebpfTarget)
	return nil
}

func printOverheadCell(w io.Writer, o *overhead, column, loop string) {
	median, low, high, ok := o.summary(column, loop)
	if !ok {
		fmt.Fprint(w, "-\t")
	} else {
		fmt.Fprintf(w, "%.0f (%.0f-%.0f)\t", median, low, high)
	}
	if column == untraced {
		return
	}
	if ratio, ok := o.ratio(column, loop); ok {
		fmt.Fprintf(w, "%.1fx\t", ratio)
	} else {
		fmt.Fprint(w, "-\t")
	}
}
