package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWatchHangupPipeReaderClosed(t *testing.T) {
	read, write := testPipe(t)
	ctx, stop, err := WatchHangup(context.Background(), write, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	read.Close()

	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("context still live 5s after the pipe lost its reader")
	}
	if cause := context.Cause(ctx); !errors.Is(cause, ErrClientGone) {
		t.Errorf("cause = %v, want ErrClientGone", cause)
	}
}

func TestWatchHangupReaderStays(t *testing.T) {
	_, write := testPipe(t)
	ctx, stop, err := WatchHangup(context.Background(), write, discardLog())
	if err != nil {
		t.Fatal(err)
	}

	select {
	case <-ctx.Done():
		t.Fatalf("context canceled while the pipe has a reader: %v", context.Cause(ctx))
	case <-time.After(200 * time.Millisecond):
	}
	stop()

	if ctx.Err() == nil {
		t.Error("context still live after stop")
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrClientGone) {
		t.Errorf("cause after stop = %v, want context.Canceled", cause)
	}
}

func TestWatchHangupRegularFile(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "response.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	ctx, stop, err := WatchHangup(context.Background(), file, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	select {
	case <-ctx.Done():
		t.Fatalf("context canceled for a regular file: %v", context.Cause(ctx))
	case <-time.After(200 * time.Millisecond):
	}
}

func TestWatchHangupParentCanceled(t *testing.T) {
	_, write := testPipe(t)
	parent, cancel := context.WithCancel(context.Background())
	ctx, stop, err := WatchHangup(parent, write, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	cancel()

	if ctx.Err() == nil {
		t.Error("context still live after its parent was canceled")
	}
}

func testPipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	read, write, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		read.Close()
		write.Close()
	})
	return read, write
}

func discardLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
