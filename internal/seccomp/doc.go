// Package seccomp holds the syscall tables of the ABIs that iotfleet devices run, the Profile
// model of a default-deny syscall policy, its validation, and its rendering as an LXC seccomp
// policy plus the classic BPF filter that denies compat ABIs.
//
// It imports nothing from Terraform and needs no cgo, so it builds and tests on every OS. The
// tables in tables_*_gen.go are generated from the Linux UAPI headers by ./gen.
package seccomp
