// Package seccomp will hold the syscall tables, the profile model and the rendering of LXC
// seccomp policies. It imports nothing from Terraform so that it can be tested on its own.
package seccomp
