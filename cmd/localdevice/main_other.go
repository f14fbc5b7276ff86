//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "localdevice: local devices need Linux network and mount namespaces; "+
		"run this command on a Linux machine")
	os.Exit(1)
}
