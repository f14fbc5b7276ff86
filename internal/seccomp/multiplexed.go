package seccomp

// x86Multiplexed maps each x86 socket and System V IPC syscall to the multiplexer syscall that
// also performs it (socketcall or ipc). x86 has the direct syscalls since Linux 4.3 (socket)
// and 5.1 (IPC), but libseccomp 2.5.4 resolves their names on x86 to negative pseudo numbers
// that cover both ways in, and LXC 5.0.2 skips a name that resolves to a negative number. So an
// LXC policy cannot allow these names for x86 callers, neither on an x86 device nor in the x86
// compat ABI of an x86_64 device.
var x86Multiplexed = map[string]string{
	"socket": "socketcall", "socketpair": "socketcall", "bind": "socketcall",
	"connect": "socketcall", "listen": "socketcall", "accept4": "socketcall",
	"getsockopt": "socketcall", "setsockopt": "socketcall", "getsockname": "socketcall",
	"getpeername": "socketcall", "sendto": "socketcall", "sendmsg": "socketcall",
	"recvfrom": "socketcall", "recvmsg": "socketcall", "shutdown": "socketcall",
	"recvmmsg": "socketcall", "sendmmsg": "socketcall",
	"semget": "ipc", "semctl": "ipc", "shmget": "ipc", "shmctl": "ipc", "shmat": "ipc",
	"shmdt": "ipc", "msgget": "ipc", "msgsnd": "ipc", "msgrcv": "ipc", "msgctl": "ipc",
}
