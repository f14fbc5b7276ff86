//go:build linux && cgo

// Package liblxc is the helper's only link to liblxc, through go-lxc and cgo. Other packages
// stay pure Go, so they build and test without a C toolchain.
package liblxc

import (
	"errors"

	lxc "github.com/lxc/go-lxc"
)

// Version returns the version of the liblxc that the helper loaded at run time, such as
// "5.0.2".
func Version() (string, error) {
	version := lxc.Version()
	if version == "" {
		return "", errors.New("liblxc returned an empty version")
	}
	return version, nil
}
