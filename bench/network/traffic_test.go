//go:build linux

package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, direction := range []string{directionSend, directionReceive} {
		line := formatHeader(direction, 2500*time.Millisecond)
		if !strings.HasSuffix(line, "\n") {
			t.Errorf("header %q does not end with a newline", line)
		}
		gotDirection, gotDuration, err := parseHeader(strings.TrimSuffix(line, "\n"))
		if err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		if gotDirection != direction {
			t.Errorf("direction = %q, want %q", gotDirection, direction)
		}
		if gotDuration != 2500*time.Millisecond {
			t.Errorf("duration = %s, want 2.5s", gotDuration)
		}
	}
}

func TestParseHeaderRejects(t *testing.T) {
	for _, line := range []string{
		"",
		"iotf-traffic/1 send",
		"iotf-traffic/2 send 1000",
		"iotf-traffic/1 sideways 1000",
		"iotf-traffic/1 send 0",
		"iotf-traffic/1 send -5",
		"iotf-traffic/1 send 1e3",
		"iotf-traffic/1 send 600001",
		"iotf-traffic/1 send 1000 extra",
	} {
		if _, _, err := parseHeader(line); err == nil {
			t.Errorf("parseHeader(%q) succeeded, want an error", line)
		}
	}
}

func TestResultRoundTrip(t *testing.T) {
	want := sample{bytes: 3_712_000_000, elapsed: 3_000_412_000}
	got, err := parseResult("some log line\n" + formatResult(want))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if got != want {
		t.Errorf("parsed %+v, want %+v", got, want)
	}
}

func TestParseResultRejects(t *testing.T) {
	for _, output := range []string{
		"",
		"listening on 1.2.3.4:5\n",
		"result bytes=10\n",
		"result bytes=0 elapsed_ns=100\n",
		"result bytes=10 elapsed_ns=0\n",
		"result bytes=x elapsed_ns=100\n",
		"result elapsed_ns=100 bytes=10\n",
	} {
		if s, err := parseResult(output); err == nil {
			t.Errorf("parseResult(%q) = %+v, want an error", output, s)
		}
	}
}

func TestBitsPerSecond(t *testing.T) {
	s := sample{bytes: 1_250_000_000, elapsed: 2 * time.Second}
	if got := s.bitsPerSecond(); got != 5e9 {
		t.Errorf("bitsPerSecond = %g, want 5e9", got)
	}
	if got := (sample{bytes: 10}).bitsPerSecond(); got != 0 {
		t.Errorf("bitsPerSecond without elapsed time = %g, want 0", got)
	}
}

func TestParseListening(t *testing.T) {
	port, err := parseListening("listening on 10.213.4.1:40123\n")
	if err != nil || port != "40123" {
		t.Errorf("parseListening = %q, %v; want 40123", port, err)
	}
	for _, line := range []string{"", "listening on 10.0.0.1:0", "ready 10.0.0.1:5", "listening on nowhere"} {
		if _, err := parseListening(line); err == nil {
			t.Errorf("parseListening(%q) succeeded, want an error", line)
		}
	}
}

// TestTransferOverLoopback runs the server's connection handler and the client against each
// other on 127.0.0.1, in both directions.
func TestTransferOverLoopback(t *testing.T) {
	listener, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	serverErrs := make(chan error, 2)
	go func() {
		for range 2 {
			conn, err := listener.Accept()
			if err != nil {
				serverErrs <- err
				return
			}
			serverErrs <- serveConn(conn.(*net.TCPConn))
		}
	}()

	for _, direction := range []string{directionSend, directionReceive} {
		s, err := transfer(listener.Addr().String(), direction, 200*time.Millisecond)
		if err != nil {
			t.Fatalf("%s: %v", direction, err)
		}
		if err := <-serverErrs; err != nil {
			t.Errorf("%s: server: %v", direction, err)
		}
		if s.bytes < chunkBytes {
			t.Errorf("%s: %d bytes moved, want at least one chunk of %d", direction, s.bytes, chunkBytes)
		}
		if s.elapsed < 100*time.Millisecond || s.elapsed > 5*time.Second {
			t.Errorf("%s: elapsed %s, want close to the 200ms transfer", direction, s.elapsed)
		}
	}
}

func TestTrafficClientPrintsResult(t *testing.T) {
	listener, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	go func() {
		if conn, err := listener.Accept(); err == nil {
			_ = serveConn(conn.(*net.TCPConn))
		}
	}()
	var out bytes.Buffer
	err = runTraffic(trafficArgs(listener.Addr().String(), directionReceive, 100*time.Millisecond)[1:], &out)
	if err != nil {
		t.Fatalf("traffic run: %v", err)
	}
	if _, err := parseResult(out.String()); err != nil {
		t.Errorf("traffic run printed %q: %v", out.String(), err)
	}

	if err := runTraffic([]string{"run", "-connect", "127.0.0.1:1", "-direction", "up"}, &out); err == nil {
		t.Error("traffic run with direction up succeeded, want an error")
	}
	if err := runTraffic([]string{"dance"}, &out); err == nil {
		t.Error("traffic with an unknown subcommand succeeded, want an error")
	}
}
