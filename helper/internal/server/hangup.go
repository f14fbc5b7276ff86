package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"golang.org/x/sys/unix"
)

// ErrClientGone is the cause of the context that WatchHangup cancels.
var ErrClientGone = errors.New("client disconnected: nothing reads the helper's output any more")

// WatchHangup returns a copy of ctx that is canceled with ErrClientGone once out has no reader:
// the read end of a pipe was closed, or a socket or terminal hung up. When an SSH client
// disconnects, closes its session or is killed, OpenSSH's sshd (measured with 9.2) closes the
// command's pipes and sends it no signal, so this is how the helper learns that no client waits
// for its response. poll(2) reports no hangup on a regular file, so output to a file is never
// seen as a lost client. stop ends the watch and cancels the returned context.
//
// Standard input cannot show a lost client, because the provider closes it after writing the
// request.
func WatchHangup(
	ctx context.Context, out *os.File, log *slog.Logger,
) (watched context.Context, stop func(), err error) {
	wakeRead, wakeWrite, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("watch output for hangup: create pipe: %w", err)
	}
	outFD, wakeFD := int(out.Fd()), int(wakeRead.Fd())
	watched, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		hungUp, err := waitHangup(outFD, wakeFD)
		switch {
		case err != nil:
			log.Warn("watching output for hangup failed; a lost client will not cancel the calls", "error", err)
		case hungUp:
			log.Warn("client disconnected; canceling the running calls")
			cancel(ErrClientGone)
		}
	}()

	stop = func() {
		wakeWrite.Close()
		<-done
		wakeRead.Close()
		cancel(nil)
	}
	return watched, stop, nil
}

// waitHangup blocks until outFD reports POLLERR or POLLHUP, and returns true, or until wakeFD
// becomes readable or hangs up, and returns false. poll(2) reports POLLERR and POLLHUP even
// when not requested, so outFD requests no events. POLLOUT would return at once, because a
// pipe's write end is writable whenever its buffer has room.
func waitHangup(outFD, wakeFD int) (bool, error) {
	fds := []unix.PollFd{
		{Fd: int32(outFD)},
		{Fd: int32(wakeFD), Events: unix.POLLIN},
	}
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("poll output: %w", err)
		}
		switch {
		case fds[1].Revents != 0:
			return false, nil
		case fds[0].Revents&unix.POLLNVAL != 0:
			return false, fmt.Errorf("poll output: file descriptor %d is not open", outFD)
		case fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0:
			return true, nil
		}
	}
}
