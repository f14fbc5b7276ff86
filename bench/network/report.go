//go:build linux

package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// referenceGap is the reference point given to the project for this benchmark: a container's
// throughput within about 1.5% of the device's own, in bridge and NAT modes and both
// directions. The report prints it next to the figures and judges none of them.
const referenceGap = 0.015

// environment describes where and how the figures were taken, for the report's header.
type environment struct {
	cpus          int
	kernel        string
	helper        string // helper binary path
	helperVersion string
	runs          int
	duration      time.Duration
	warmup        time.Duration

	bridgeContainer, natContainer string // container addresses
	bridgeMTU, natMTU             int
	uplinkRate                    int64 // bit/s of the link-bound NAT rows, zero for none
}

// printReport writes the header, one row per comparison and the reference point.
func printReport(w io.Writer, env environment, list []*comparison) error {
	printHeader(w, env)
	table := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(table, "mode\tdirection\tcontainer Gbit/s\tmin-max\tnative Gbit/s\tmin-max\t"+
		"ratio\tdifference\tpaired ratio (min-max)")
	for _, c := range list {
		fmt.Fprintln(table, formatRow(c))
	}
	if err := table.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nratio = median container / median native, difference = ratio - 1; paired ratio = "+
		"median (min-max) of\ncontainer/native within each round, which cancels load changes slower than a round.")
	fmt.Fprintf(w, "Reference point given to the project: container within about %.1f%% of native in both "+
		"directions\n(ratio %.3f or more). This program prints the figures and judges none of them.\n",
		referenceGap*100, 1-referenceGap)
	return nil
}

func printHeader(w io.Writer, env environment) {
	fmt.Fprintf(w, "\niotfleet network throughput: %d CPUs, kernel %s, helper %s (%s)\n",
		env.cpus, env.kernel, env.helper, env.helperVersion)
	warmup := "no warm-up round"
	if env.warmup > 0 {
		warmup = fmt.Sprintf("after one uncounted round of %s transfers", env.warmup)
	}
	fmt.Fprintf(w, "%d rounds of %s transfers per path and direction, %s.\n", env.runs, env.duration, warmup)
	fmt.Fprintln(w, "One TCP connection per transfer, timed by its receiver; each round alternates which side goes first.")
	fmt.Fprintln(w, "Containers: busybox with the provider's defaults (no capabilities, no_new_privs, read-only rootfs,")
	fmt.Fprintln(w, "128 MiB of memory, 128 processes, own ID range) and one NIC; the tool runs in them via container.exec.")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "bridge  container %s -> bridge %s (MTU %d) -> server in the device on %s\n",
		env.bridgeContainer, bridgeNetwork, env.bridgeMTU, bridgeGateway())
	fmt.Fprintf(w, "        native: a second namespace -> plain veth pair -> the same server on %s\n",
		referenceDeviceIP)
	fmt.Fprintf(w, "NAT     container %s -> bridge %s (MTU %d) -> masquerade out of %s -> server in\n",
		env.natContainer, natNetwork, env.natMTU, uplinkDeviceVeth)
	fmt.Fprintf(w, "        a namespace at the far end of that veth pair, %s\n", outsideIP)
	fmt.Fprintf(w, "        native: the device itself -> %s -> the same server\n", uplinkDeviceVeth)
	fmt.Fprintln(w, "The bridge and NAT rows are CPU-bound: a veth pair has no line rate, so a transfer runs")
	fmt.Fprintln(w, "until a CPU is busy.")
	if env.uplinkRate > 0 {
		rate := formatRate(env.uplinkRate)
		fmt.Fprintf(w, "The NAT %s rows are link-bound: the same NAT paths with both ends of %s shaped to %s\n",
			rate, uplinkDeviceVeth, rate)
		fmt.Fprintln(w, "by tc tbf, as a physical link limits a device. The bridge paths do not cross the uplink.")
	}
	fmt.Fprintln(w)
}

// formatRow returns the table row of c, cells separated by tabs.
func formatRow(c *comparison) string {
	container := throughputs(c.containerSamples)
	native := throughputs(c.nativeSamples)
	cMedian, cLow, cHigh := summarize(container)
	nMedian, nLow, nHigh := summarize(native)
	paired := pairedRatios(container, native)
	pMedian, pLow, pHigh := summarize(paired)

	ratioCell, differenceCell, pairedCell := "-", "-", "-"
	if nMedian > 0 {
		r := cMedian / nMedian
		ratioCell = fmt.Sprintf("%.3f", r)
		differenceCell = fmt.Sprintf("%+.1f%%", (r-1)*100)
	}
	if len(paired) > 0 {
		pairedCell = fmt.Sprintf("%.3f (%.3f-%.3f)", pMedian, pLow, pHigh)
	}
	return fmt.Sprintf("%s\t%s\t%6.2f\t%6.2f-%-6.2f\t%6.2f\t%6.2f-%-6.2f\t%s\t%6s\t%s", c.mode, directionTitle(c.direction),
		gbits(cMedian), gbits(cLow), gbits(cHigh), gbits(nMedian), gbits(nLow), gbits(nHigh),
		ratioCell, differenceCell, pairedCell)
}

// throughputs returns the bit rate of each sample.
func throughputs(samples []sample) []float64 {
	rates := make([]float64, len(samples))
	for i, s := range samples {
		rates[i] = s.bitsPerSecond()
	}
	return rates
}

// pairedRatios returns container[i]/native[i] for each round in which both were measured and
// native[i] is above zero.
func pairedRatios(container, native []float64) []float64 {
	var ratios []float64
	for i := range min(len(container), len(native)) {
		if native[i] > 0 {
			ratios = append(ratios, container[i]/native[i])
		}
	}
	return ratios
}

// summarize returns the median, minimum and maximum of values, or zeros when it is empty. The
// median of an even count is the mean of the middle two.
func summarize(values []float64) (median, low, high float64) {
	if len(values) == 0 {
		return 0, 0, 0
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	middle := len(sorted) / 2
	median = sorted[middle]
	if len(sorted)%2 == 0 {
		median = (sorted[middle-1] + sorted[middle]) / 2
	}
	return median, sorted[0], sorted[len(sorted)-1]
}

// gbits converts bits per second to Gbit/s (10^9 bits per second).
func gbits(bitsPerSecond float64) float64 {
	return bitsPerSecond / 1e9
}
