//go:build linux

package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// reference holds the figures given to the project for one command, in seconds: terraform-lxd
// against LXD on the machine the project was specified on, and the project's target. They
// were not measured by this program.
type reference struct {
	lxd, target float64
}

var referenceTimes = map[string]reference{
	"apply-1":    {lxd: 2.7, target: 0.9},
	"apply-10":   {lxd: 3.9, target: 1.5},
	"plan-10":    {lxd: 0.53, target: 0.45},
	"destroy-10": {lxd: 4.0, target: 1.0},
}

// Reference peak memory of terraform-lxd in MiB and storage per container in KB, as given to
// the project.
const (
	referenceMemoryMiB = 37
	referenceStorageKB = 508
)

// printReport writes the figures with the reference values next to them. A ratio is ours
// divided by the reference, so below 1 is smaller or faster than the reference.
func printReport(w io.Writer, env environment, r *results) error {
	fmt.Fprintf(w, "\nterraform-provider-iotfleet benchmark: %s, %d CPUs, kernel %s, provider %s\n",
		env.terraform, env.cpus, env.kernel, env.provider)
	if env.noBashrc {
		fmt.Fprintln(w, "With -no-bashrc: root's ~/.bashrc was hidden inside the device.")
	}
	fmt.Fprintln(w, "Reference figures were given to the project (terraform-lxd with LXD on the machine the "+
		"project was specified on); they were not measured here.")

	fmt.Fprintf(w, "\nWall time of each terraform command in seconds, %d runs after one uncounted warm-up "+
		"cycle, with the helper and the busybox base in place; parallelism 10 (Terraform's default):\n", r.runs)
	table := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(table, "command\tmedian\tmin\tmax\tterraform-lxd\tratio\ttarget\tratio\t")
	for _, s := range cycle {
		printTimeRow(table, s, r.times[s.key])
	}
	if err := table.Flush(); err != nil {
		return err
	}

	if err := printMemory(w, r.memory); err != nil {
		return err
	}
	printStorage(w, r.storage)
	printBreakdown(w, r.breakdown)
	return nil
}

func printTimeRow(w io.Writer, s step, times []time.Duration) {
	median, low, high := summarize(times)
	fmt.Fprintf(w, "%s\t%.2f\t%.2f\t%.2f\t", s.title, median.Seconds(), low.Seconds(), high.Seconds())
	ref, ok := referenceTimes[s.key]
	if !ok {
		fmt.Fprintln(w, "-\t-\t-\t-\t")
		return
	}
	fmt.Fprintf(w, "%.2f\t%s\t%.2f\t%s\t\n", ref.lxd, ratio(median.Seconds(), ref.lxd),
		ref.target, ratio(median.Seconds(), ref.target))
}

func printMemory(w io.Writer, memory map[string]memoryUse) error {
	fmt.Fprintln(w, "\nPeak memory of the provider (max RSS of each provider process, from wait4), "+
		"one more run of each command:")
	table := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(table, "command\tpeak MiB\tprovider processes\t")
	var highest int64
	for _, s := range cycle {
		use := memory[s.key]
		highest = max(highest, use.maxKiB)
		fmt.Fprintf(table, "%s\t%.1f\t%d\t\n", s.title, kibToMiB(use.maxKiB), use.processes)
	}
	if err := table.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "highest: %.1f MiB; terraform-lxd %d MiB, ratio %s\n", kibToMiB(highest),
		referenceMemoryMiB, ratio(kibToMiB(highest), referenceMemoryMiB))
	return nil
}

func printStorage(w io.Writer, s storageUse) {
	fmt.Fprintln(w, "\nDisk space on the device (differences of du -sk over its lxc path and state_dir; "+
		"the anchor container keeps the shared busybox base in place):")
	one := s.withOne - s.before
	fmt.Fprintf(w, "one container adds       %6d KiB (its rootfs_bytes: %d bytes = %.0f KiB); reference %d KB, ratio %s (KB read as KiB)\n",
		one, s.rootfsBytes, float64(s.rootfsBytes)/1024, referenceStorageKB, ratio(float64(one), referenceStorageKB))
	ten := s.withTen - s.before
	fmt.Fprintf(w, "ten containers add       %6d KiB (%.0f KiB each)\n", ten, float64(ten)/10)
	fmt.Fprintf(w, "left after destroying them %4d KiB\n", s.after-s.before)
	fmt.Fprintf(w, "first busybox container  %6d KiB, the shared busybox base included\n", s.withAnchor-s.helperOnly)
}

func printBreakdown(w io.Writer, costs []operationCost) {
	fmt.Fprintf(w, "\nSingle device operations, one at a time over one warm SSH connection, median of %d:\n",
		breakdownRounds)
	for _, cost := range costs {
		fmt.Fprintf(w, "  %-66s %6.0f ms\n", cost.title, float64(cost.median)/float64(time.Millisecond))
	}
}

// summarize returns the median, minimum and maximum of times, or zeros when it is empty. The
// median of an even count is the mean of the middle two.
func summarize(times []time.Duration) (median, low, high time.Duration) {
	if len(times) == 0 {
		return 0, 0, 0
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	middle := len(sorted) / 2
	median = sorted[middle]
	if len(sorted)%2 == 0 {
		median = (sorted[middle-1] + sorted[middle]) / 2
	}
	return median, sorted[0], sorted[len(sorted)-1]
}

// ratio formats ours/reference with two decimals, or "-" without a reference.
func ratio(ours, reference float64) string {
	if reference <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", ours/reference)
}

func kibToMiB(kib int64) float64 {
	return float64(kib) / 1024
}
