//go:build !(linux && cgo)

// Package liblxc is the helper's only link to liblxc, through go-lxc and cgo. Other packages
// stay pure Go, so they build and test without a C toolchain.
package liblxc

import "errors"

// errNoCgo explains why a helper built without cgo cannot reach liblxc.
var errNoCgo = errors.New("this helper was built without cgo and cannot use liblxc; " +
	"build it with `make helpers`")

// Version returns an error: the helper was built without liblxc.
func Version() (string, error) {
	return "", errNoCgo
}
