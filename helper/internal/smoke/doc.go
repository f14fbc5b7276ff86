// Package smoke runs the helper binaries that `make helpers` built, each on its own
// architecture (natively or under qemu-user), and checks what they print. It has only tests;
// `make helper-smoke` runs them.
package smoke
