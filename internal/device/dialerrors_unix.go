//go:build unix

package device

import "syscall"

// retryableErrnos are the connect errors that a device which is booting or restarting sshd
// returns: the port is closed, or the route to it is not up yet.
var retryableErrnos = []error{
	syscall.ECONNREFUSED,
	syscall.EHOSTUNREACH,
	syscall.ENETUNREACH,
	syscall.EHOSTDOWN,
	syscall.ETIMEDOUT,
}
