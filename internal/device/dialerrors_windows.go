//go:build windows

package device

import "syscall"

// retryableErrnos are the connect errors that a device which is booting or restarting sshd
// returns: the port is closed, or the route to it is not up yet. Winsock reports them with
// its own codes, which the syscall package names only for some.
var retryableErrnos = []error{
	syscall.Errno(10061), // WSAECONNREFUSED
	syscall.Errno(10065), // WSAEHOSTUNREACH
	syscall.Errno(10051), // WSAENETUNREACH
	syscall.Errno(10064), // WSAEHOSTDOWN
	syscall.Errno(10060), // WSAETIMEDOUT
}
