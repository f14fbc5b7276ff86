//go:build linux

package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// The traffic tool is this binary started as `bench-network traffic serve|run`. It moves bulk
// data over one TCP connection for a set duration, which the receiving side times from its
// first byte to the sender's end of stream. The client always opens the connection, so a
// container behind NAT can measure both directions. The client's header line names the side
// that sends:
//
//	iotf-traffic/1 send 3000      the client sends for 3000 ms; the server counts and replies
//	iotf-traffic/1 receive 3000   the server sends for 3000 ms; the client counts
//
// The receiving side reports one result line, which the client prints:
//
//	result bytes=3712000000 elapsed_ns=3000412000
const (
	trafficCommand = "traffic"
	headerMagic    = "iotf-traffic/1"
	resultPrefix   = "result"

	// Each write and read moves up to this many bytes.
	chunkBytes = 128 << 10

	// maxTrafficDuration bounds what a header may ask for, so a stray connection cannot keep a
	// server sending for hours.
	maxTrafficDuration = 10 * time.Minute

	// trafficSlack is added to a transfer's duration for the connection deadlines: the set-up
	// and the end of stream must fit into it.
	trafficSlack = 30 * time.Second

	// maxLineBytes bounds the header and result lines.
	maxLineBytes = 256
)

// Directions, as seen by the client that opens the connection.
const (
	directionSend    = "send"
	directionReceive = "receive"
)

// sample is one timed transfer as its receiver counted it.
type sample struct {
	bytes   int64
	elapsed time.Duration
}

// bitsPerSecond returns the throughput of s, or 0 for a transfer that took no time.
func (s sample) bitsPerSecond() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.bytes) * 8 / s.elapsed.Seconds()
}

// formatHeader returns the client's header line, newline included.
func formatHeader(direction string, duration time.Duration) string {
	return fmt.Sprintf("%s %s %d\n", headerMagic, direction, duration.Milliseconds())
}

// parseHeader parses a header line without its newline.
func parseHeader(line string) (direction string, duration time.Duration, err error) {
	fields := strings.Fields(line)
	if len(fields) != 3 || fields[0] != headerMagic {
		return "", 0, fmt.Errorf("invalid header %q: want %q, a direction and a duration in ms",
			line, headerMagic)
	}
	direction = fields[1]
	if direction != directionSend && direction != directionReceive {
		return "", 0, fmt.Errorf("invalid header %q: direction must be %s or %s", line,
			directionSend, directionReceive)
	}
	ms, err := strconv.ParseInt(fields[2], 10, 64)
	duration = time.Duration(ms) * time.Millisecond
	if err != nil || ms <= 0 || duration > maxTrafficDuration {
		return "", 0, fmt.Errorf("invalid header %q: duration must be 1 to %d ms", line,
			maxTrafficDuration.Milliseconds())
	}
	return direction, duration, nil
}

// formatResult returns the result line of s, newline included.
func formatResult(s sample) string {
	return fmt.Sprintf("%s bytes=%d elapsed_ns=%d\n", resultPrefix, s.bytes, s.elapsed.Nanoseconds())
}

// parseResult finds the result line in output, which may contain other lines, and parses it.
func parseResult(output string) (sample, error) {
	for _, line := range strings.Split(output, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != resultPrefix {
			continue
		}
		var s sample
		var elapsed int64
		if len(fields) != 3 {
			return sample{}, fmt.Errorf("invalid result line %q", line)
		}
		if _, err := fmt.Sscanf(fields[1], "bytes=%d", &s.bytes); err != nil || s.bytes <= 0 {
			return sample{}, fmt.Errorf("invalid result line %q: want bytes=N with N > 0", line)
		}
		if _, err := fmt.Sscanf(fields[2], "elapsed_ns=%d", &elapsed); err != nil || elapsed <= 0 {
			return sample{}, fmt.Errorf("invalid result line %q: want elapsed_ns=N with N > 0", line)
		}
		s.elapsed = time.Duration(elapsed)
		return s, nil
	}
	return sample{}, fmt.Errorf("no result line in the traffic tool's output %q", output)
}

// runTraffic runs the traffic tool's subcommand args[0].
func runTraffic(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("traffic: missing subcommand: use serve or run")
	}
	switch args[0] {
	case "serve":
		return serveTraffic(args[1:], stdout)
	case "run":
		return runTrafficClient(args[1:], stdout)
	default:
		return fmt.Errorf("traffic: unknown subcommand %q: use serve or run", args[0])
	}
}

// serveTraffic listens on -listen, prints "listening on ADDRESS" once it accepts connections,
// and serves each connection until the process is stopped.
func serveTraffic(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("traffic serve", flag.ContinueOnError)
	listen := flags.String("listen", "", "IPv4 address and port to listen on; port 0 picks a free one")
	if err := flags.Parse(args); err != nil {
		return err
	}
	listener, err := net.Listen("tcp4", *listen)
	if err != nil {
		return fmt.Errorf("traffic serve: listen: %w", err)
	}
	fmt.Fprintf(stdout, "listening on %s\n", listener.Addr())
	for {
		conn, err := listener.Accept()
		if err != nil {
			return fmt.Errorf("traffic serve: accept: %w", err)
		}
		go func() {
			if err := serveConn(conn.(*net.TCPConn)); err != nil {
				fmt.Fprintf(os.Stderr, "traffic serve: connection from %s: %v\n", conn.RemoteAddr(), err)
			}
		}()
	}
}

func serveConn(conn *net.TCPConn) error {
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(trafficSlack)); err != nil {
		return err
	}
	reader := bufio.NewReaderSize(conn, chunkBytes)
	line, err := readLine(reader)
	if err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	direction, duration, err := parseHeader(line)
	if err != nil {
		return err
	}
	if err := conn.SetDeadline(time.Now().Add(duration + trafficSlack)); err != nil {
		return err
	}

	if direction == directionReceive {
		if err := sendFor(conn, duration); err != nil {
			return err
		}
		// Wait for the client to finish counting and close.
		_, err := io.Copy(io.Discard, reader)
		return err
	}
	s, err := receiveAll(reader)
	if err != nil {
		return err
	}
	_, err = io.WriteString(conn, formatResult(s))
	return err
}

// runTrafficClient connects to -connect, moves data in -direction for -duration and prints the
// receiving side's result line.
func runTrafficClient(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("traffic run", flag.ContinueOnError)
	connect := flags.String("connect", "", "server's IPv4 address and port")
	direction := flags.String("direction", directionSend, "send (this side sends) or receive")
	duration := flags.Duration("duration", 3*time.Second, "how long the sender sends")
	if err := flags.Parse(args); err != nil {
		return err
	}
	// Checking the header here gives the same limits on both sides.
	if _, _, err := parseHeader(strings.TrimSpace(formatHeader(*direction, *duration))); err != nil {
		return fmt.Errorf("traffic run: %w", err)
	}
	s, err := transfer(*connect, *direction, *duration)
	if err != nil {
		return fmt.Errorf("traffic run: %w", err)
	}
	_, err = io.WriteString(stdout, formatResult(s))
	return err
}

// transfer opens one connection to address and runs one timed transfer in direction.
func transfer(address, direction string, duration time.Duration) (sample, error) {
	conn, err := net.DialTimeout("tcp4", address, 10*time.Second)
	if err != nil {
		return sample{}, fmt.Errorf("connect: %w", err)
	}
	tcp := conn.(*net.TCPConn)
	defer tcp.Close()
	if err := tcp.SetDeadline(time.Now().Add(duration + trafficSlack)); err != nil {
		return sample{}, err
	}
	if _, err := io.WriteString(tcp, formatHeader(direction, duration)); err != nil {
		return sample{}, fmt.Errorf("send header: %w", err)
	}
	reader := bufio.NewReaderSize(tcp, chunkBytes)
	if direction == directionReceive {
		return receiveAll(reader)
	}

	if err := sendFor(tcp, duration); err != nil {
		return sample{}, err
	}
	line, err := readLine(reader)
	if err != nil {
		return sample{}, fmt.Errorf("read the server's result: %w", err)
	}
	return parseResult(line)
}

// sendFor writes chunks to conn for duration, then closes its sending side, so the receiver
// reads the end of stream after the last byte.
func sendFor(conn *net.TCPConn, duration time.Duration) error {
	chunk := make([]byte, chunkBytes)
	deadline := time.Now().Add(duration)
	for time.Now().Before(deadline) {
		if _, err := conn.Write(chunk); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	if err := conn.CloseWrite(); err != nil {
		return fmt.Errorf("close the sending side: %w", err)
	}
	return nil
}

// receiveAll reads until the end of stream. The clock starts when the first read returns, so
// the bytes of that read are not counted: they arrived before the clock ran.
func receiveAll(reader io.Reader) (sample, error) {
	buf := make([]byte, chunkBytes)
	var s sample
	var start time.Time
	for {
		n, err := reader.Read(buf)
		switch {
		case n > 0 && start.IsZero():
			start = time.Now()
		case n > 0:
			s.bytes += int64(n)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sample{}, fmt.Errorf("receive after %d bytes: %w", s.bytes, err)
		}
	}
	if s.bytes == 0 {
		return sample{}, errors.New("receive: the sender closed the connection before a timed transfer")
	}
	s.elapsed = time.Since(start)
	return s, nil
}

// readLine reads one line of at most maxLineBytes and returns it without its newline.
func readLine(reader *bufio.Reader) (string, error) {
	var line []byte
	for {
		part, isPrefix, err := reader.ReadLine()
		if err != nil {
			return "", err
		}
		line = append(line, part...)
		if len(line) > maxLineBytes {
			return "", fmt.Errorf("line longer than %d bytes", maxLineBytes)
		}
		if !isPrefix {
			return string(line), nil
		}
	}
}
