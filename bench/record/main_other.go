//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench-record: the benchmark runs LXC containers on local devices, which need "+
		"Linux network and mount namespaces; run it on a Linux machine")
	os.Exit(1)
}
