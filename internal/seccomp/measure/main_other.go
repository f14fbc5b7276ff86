//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "measure: measuring needs LXC containers in a local device; run it on Linux")
	os.Exit(1)
}
