//go:build linux

package record_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// threadsSource starts goroutines on several threads that sleep, so the Go runtime parks idle
// threads in the network poller (epoll_pwait) and wakes them with futex.
const threadsSource = `package main

import (
	"runtime"
	"sync"
	"time"
)

func main() {
	runtime.GOMAXPROCS(4)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
}
`

func TestRecordThreadedProgram(t *testing.T) {
	d := startDevice(t)
	d.createContainer("threads", false, "/threads")
	program := buildGo(t, threadsSource, runtime.GOARCH)
	if err := os.WriteFile(filepath.Join(d.rootfs("threads"), "threads"), program, 0o755); err != nil {
		t.Fatalf("copy the program into the rootfs: %v", err)
	}

	for _, mechanism := range mechanisms(t) {
		t.Run(mechanism, func(t *testing.T) {
			state := d.forTest(t).record(protocol.RecordingRunParams{Name: "threads-" + mechanism,
				Container: "threads", DurationSeconds: 30, Mechanism: mechanism})
			recorded := names(state, state.Result.Arch)
			// clone from the new threads, futex and epoll_pwait from the threads that sleep.
			for _, want := range []string{"clone", "futex", "epoll_pwait"} {
				if recorded[want] == 0 {
					t.Errorf("%s not recorded; recorded %v", want, keys(recorded))
				}
			}
		})
	}
}
