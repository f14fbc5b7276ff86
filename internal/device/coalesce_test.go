package device

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// shortWindow is an idle window long enough for every goroutine of a test to join one batch,
// even under the race detector on a busy machine.
const shortWindow = 500 * time.Millisecond

// requestLog records the requests that reach the test server's helper.
type requestLog struct {
	mu       sync.Mutex
	requests []protocol.Request
}

func (l *requestLog) add(request protocol.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests = append(l.requests, request)
}

func (l *requestLog) all() []protocol.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]protocol.Request(nil), l.requests...)
}

// reverseEchoServe returns each call's own parameters as its result, listing the results in reverse
// order, so that a result reaches the right caller only when it is matched by ID.
func reverseEchoServe(request protocol.Request) ([]byte, string, int) {
	response := protocol.Response{Version: protocol.Version}
	for i := len(request.Calls) - 1; i >= 0; i-- {
		call := request.Calls[i]
		response.Results = append(response.Results, protocol.Result{ID: call.ID, Data: call.Params})
	}
	body, _ := json.Marshal(response)
	return body, "", 0
}

// newCoalesceTestClient returns a client whose reads coalesce with the given windows, the log of
// the requests that reach its helper, and the pool's logger. serve runs after the request is
// logged.
func newCoalesceTestClient(
	t *testing.T, idle, busy time.Duration, serve serveFunc,
) (*Client, *requestLog, *recordingLogger) {
	t.Helper()
	server := newTestServer(t)
	requests := &requestLog{}
	server.setServe(func(request protocol.Request) ([]byte, string, int) {
		requests.add(request)
		return serve(request)
	})
	target := pinnedTarget(server)
	installFakeHelper(t, target)
	pool := NewPool(testCredentials(), time.Minute)
	pool.coalesceIdleWindow, pool.coalesceBusyWindow = idle, busy
	logger := &recordingLogger{}
	pool.SetLogger(logger)
	t.Cleanup(func() { pool.Close() })
	client, err := pool.Get(context.Background(), target)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	return client, requests, logger
}

// openCalls returns the number of calls in the client's open batch.
func openCalls(client *Client) int {
	reads := client.conn.reads
	reads.mu.Lock()
	defer reads.mu.Unlock()
	lane := reads.lanes[keyOf(client)]
	if lane == nil || lane.open == nil {
		return 0
	}
	return len(lane.open.calls)
}

// readOutcome is what one caller of getContainer received.
type readOutcome struct {
	name string
	err  error
}

// getContainer reads container name through op and returns the name that the result carries.
func getContainer(ctx context.Context, client *Client, op, name string) readOutcome {
	var result protocol.ContainerName
	err := client.Call(ctx, op, protocol.ContainerName{Name: name}, &result)
	return readOutcome{name: result.Name, err: err}
}

// getConcurrently starts one getContainer per name and returns the outcomes by name.
func getConcurrently(client *Client, op string, names []string) map[string]readOutcome {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	outcomes := make(map[string]readOutcome, len(names))
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			outcome := getContainer(ctx, client, op, name)
			mu.Lock()
			defer mu.Unlock()
			outcomes[name] = outcome
		})
	}
	wg.Wait()
	return outcomes
}

func containerNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("web%d", i)
	}
	return names
}

// assertOwnResults checks that every caller got the result of its own call.
func assertOwnResults(t *testing.T, outcomes map[string]readOutcome) {
	t.Helper()
	for name, outcome := range outcomes {
		if outcome.err != nil {
			t.Errorf("read of %s: error = %v", name, outcome.err)
			continue
		}
		if outcome.name != name {
			t.Errorf("read of %s got the result of %s", name, outcome.name)
		}
	}
}

func TestCoalesceConcurrentReadsOneExec(t *testing.T) {
	// The idle window never ends in this test, so the request goes when the batch is full.
	client, requests, logger := newCoalesceTestClient(t, time.Hour, time.Hour, reverseEchoServe)

	outcomes := getConcurrently(client, protocol.OpContainerGet, containerNames(maxCoalescedCalls))

	assertOwnResults(t, outcomes)
	sent := requests.all()
	if len(sent) != 1 {
		t.Fatalf("helper ran %d times, want once", len(sent))
	}
	if got := len(sent[0].Calls); got != maxCoalescedCalls {
		t.Errorf("request has %d calls, want %d", got, maxCoalescedCalls)
	}
	entry, ok := logger.find("sending coalesced helper reads")
	if !ok {
		t.Fatalf("no log line for the batch")
	}
	if entry.fields["calls"] != maxCoalescedCalls {
		t.Errorf("log line has calls = %v, want %d", entry.fields["calls"], maxCoalescedCalls)
	}
	if got := logger.count("sending coalesced helper reads"); got != 1 {
		t.Errorf("logged %d batches, want 1", got)
	}
}

func TestCoalesceRoutesCallErrors(t *testing.T) {
	serve := func(request protocol.Request) ([]byte, string, int) {
		response := protocol.Response{Version: protocol.Version}
		for _, call := range request.Calls {
			result := protocol.Result{ID: call.ID, Data: call.Params}
			if strings.Contains(string(call.Params), "gone") {
				notFound := protocol.Errorf(protocol.CodeNotFound, "container %s", call.Params)
				result = protocol.Result{ID: call.ID, Error: notFound}
			}
			response.Results = append(response.Results, result)
		}
		body, _ := json.Marshal(response)
		return body, "", 0
	}
	client, requests, _ := newCoalesceTestClient(t, shortWindow, time.Hour, serve)

	outcomes := getConcurrently(client, protocol.OpContainerGet, []string{"web0", "gone", "web1"})

	if err := outcomes["gone"].err; !errors.Is(err, protocol.ErrNotFound) {
		t.Errorf("read of gone: error = %v, want one matching protocol.ErrNotFound", err)
	}
	delete(outcomes, "gone")
	assertOwnResults(t, outcomes)
	if got := len(requests.all()); got != 1 {
		t.Errorf("helper ran %d times, want once", got)
	}
}

func TestCoalesceCancelledCallerLeavesOthers(t *testing.T) {
	received := make(chan struct{}, 1)
	release := make(chan struct{})
	serve := func(request protocol.Request) ([]byte, string, int) {
		received <- struct{}{}
		<-release
		return reverseEchoServe(request)
	}
	client, requests, _ := newCoalesceTestClient(t, shortWindow, time.Hour, serve)

	cancelled, cancel := context.WithCancel(context.Background())
	defer cancel()
	gaveUp := make(chan readOutcome, 1)
	go func() { gaveUp <- getContainer(cancelled, client, protocol.OpContainerGet, "impatient") }()
	// The cancelled caller starts the batch, whose request must not depend on that caller.
	waitFor(t, "the first read started a batch", func() bool { return openCalls(client) == 1 })
	others := make(chan map[string]readOutcome, 1)
	go func() { others <- getConcurrently(client, protocol.OpContainerGet, []string{"web0", "web1"}) }()

	<-received
	cancel()
	select {
	case outcome := <-gaveUp:
		if !errors.Is(outcome.err, context.Canceled) {
			t.Errorf("cancelled read: error = %v, want one matching context.Canceled", outcome.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("cancelled read did not return while the request ran")
	}
	close(release)
	assertOwnResults(t, <-others)
	if got := len(requests.all()[0].Calls); got != 3 {
		t.Errorf("request has %d calls, want 3", got)
	}
}

func TestCoalesceAbandonedBatchNotSent(t *testing.T) {
	client, requests, _ := newCoalesceTestClient(t, 200*time.Millisecond, time.Hour, reverseEchoServe)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	outcome := getContainer(ctx, client, protocol.OpContainerGet, "web0")
	if !errors.Is(outcome.err, context.DeadlineExceeded) {
		t.Errorf("read error = %v, want one matching context.DeadlineExceeded", outcome.err)
	}
	time.Sleep(400 * time.Millisecond)
	if got := len(requests.all()); got != 0 {
		t.Errorf("helper ran %d times for a read whose caller left, want 0", got)
	}

	// A later read starts a batch of its own.
	assertOwnResults(t, getConcurrently(client, protocol.OpContainerGet, []string{"web1"}))
}

func TestCoalesceRequestErrorReachesAll(t *testing.T) {
	tests := []struct {
		name         string
		serve        serveFunc
		removeHelper bool
		check        func(t *testing.T, err error)
	}{
		{
			name:  "crash",
			serve: func(protocol.Request) ([]byte, string, int) { return nil, "panic: boom\n", 2 },
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "exited with status 2: panic: boom") {
					t.Errorf("error = %v, want the helper's exit status and stderr", err)
				}
			},
		},
		{
			name: "rejected request",
			serve: func(protocol.Request) ([]byte, string, int) {
				response := protocol.Response{Version: protocol.Version,
					Error: protocol.Errorf(protocol.CodeUnsupportedVersion, "want version 2")}
				body, _ := json.Marshal(response)
				return body, "", 3
			},
			check: func(t *testing.T, err error) {
				var helperErr *protocol.Error
				if !errors.Is(err, protocol.ErrUnsupportedVersion) || !errors.As(err, &helperErr) {
					t.Errorf("error = %v, want the helper's *protocol.Error matching ErrUnsupportedVersion", err)
				}
			},
		},
		{
			name:         "missing helper",
			serve:        reverseEchoServe,
			removeHelper: true,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrHelperMissing) || !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("error = %v, want one matching ErrHelperMissing and fs.ErrNotExist", err)
				}
			},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			client, requests, _ := newCoalesceTestClient(t, shortWindow, time.Hour, test.serve)
			if test.removeHelper {
				if err := os.Remove(client.Target().HelperPath()); err != nil {
					t.Fatalf("remove helper: %v", err)
				}
			}

			outcomes := getConcurrently(client, protocol.OpContainerGet, containerNames(3))

			first := outcomes["web0"].err
			for name, outcome := range outcomes {
				test.check(t, outcome.err)
				if outcome.err != nil && first != nil && outcome.err.Error() != first.Error() {
					t.Errorf("read of %s: error = %q, want the same as the others: %q", name, outcome.err, first)
				}
			}
			if got := len(requests.all()); !test.removeHelper && got != 1 {
				t.Errorf("helper ran %d times, want once", got)
			}
		})
	}
}

func TestCoalesceWritesSentAlone(t *testing.T) {
	client, requests, _ := newCoalesceTestClient(t, shortWindow, time.Hour, reverseEchoServe)

	outcomes := getConcurrently(client, protocol.OpContainerApply, containerNames(4))

	assertOwnResults(t, outcomes)
	sent := requests.all()
	if len(sent) != 4 {
		t.Errorf("helper ran %d times for 4 writes, want 4", len(sent))
	}
	for _, request := range sent {
		if len(request.Calls) != 1 {
			t.Errorf("request has %d calls, want 1: %+v", len(request.Calls), request.Calls)
		}
	}
}

func TestCoalesceSplitsAtMaxCalls(t *testing.T) {
	client, requests, _ := newCoalesceTestClient(t, shortWindow, time.Hour, reverseEchoServe)
	names := containerNames(2*maxCoalescedCalls + 1)

	outcomes := getConcurrently(client, protocol.OpContainerGet, names)

	assertOwnResults(t, outcomes)
	sent := requests.all()
	total := 0
	for _, request := range sent {
		if len(request.Calls) > maxCoalescedCalls {
			t.Errorf("request has %d calls, want at most %d", len(request.Calls), maxCoalescedCalls)
		}
		total += len(request.Calls)
	}
	if total != len(names) {
		t.Errorf("requests carry %d calls, want %d", total, len(names))
	}
	if len(sent) != 3 {
		t.Errorf("helper ran %d times, want 3", len(sent))
	}
}

func TestCoalesceSplitsLargeParams(t *testing.T) {
	client, requests, _ := newCoalesceTestClient(t, shortWindow, time.Hour, reverseEchoServe)
	large := strings.Repeat("x", maxCoalescedParamBytes)

	outcomes := getConcurrently(client, protocol.OpContainerGet, []string{"web0", large, "web1"})

	assertOwnResults(t, outcomes)
	for _, request := range requests.all() {
		for _, call := range request.Calls {
			if len(call.Params) > maxCoalescedParamBytes && len(request.Calls) != 1 {
				t.Errorf("the large read shares a request with %d other calls", len(request.Calls)-1)
			}
		}
	}
}

func TestCoalesceWaitsForRunningRequest(t *testing.T) {
	received := make(chan struct{}, 4)
	release := make(chan struct{})
	serve := func(request protocol.Request) ([]byte, string, int) {
		received <- struct{}{}
		if strings.Contains(string(request.Calls[0].Params), "first") {
			<-release
		}
		return reverseEchoServe(request)
	}
	client, requests, _ := newCoalesceTestClient(t, time.Millisecond, time.Hour, serve)

	first := make(chan map[string]readOutcome, 1)
	go func() { first <- getConcurrently(client, protocol.OpContainerGet, []string{"first"}) }()
	<-received
	later := make(chan map[string]readOutcome, 1)
	go func() { later <- getConcurrently(client, protocol.OpContainerGet, []string{"web0", "web1"}) }()

	time.Sleep(100 * time.Millisecond)
	if got := len(requests.all()); got != 1 {
		t.Errorf("helper ran %d times while the first request ran, want once", got)
	}
	close(release)
	assertOwnResults(t, <-first)
	assertOwnResults(t, <-later)
	sent := requests.all()
	if len(sent) != 2 {
		t.Fatalf("helper ran %d times, want twice", len(sent))
	}
	if got := len(sent[1].Calls); got != 2 {
		t.Errorf("second request has %d calls, want the 2 reads that waited", got)
	}
}

func TestCoalesceBusyWindowBoundsWait(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	received := make(chan struct{}, 2)
	serve := func(request protocol.Request) ([]byte, string, int) {
		received <- struct{}{}
		if strings.Contains(string(request.Calls[0].Params), "stuck") {
			<-release
		}
		return reverseEchoServe(request)
	}
	client, _, _ := newCoalesceTestClient(t, time.Millisecond, 100*time.Millisecond, serve)

	go getConcurrently(client, protocol.OpContainerGet, []string{"stuck"})
	<-received
	started := time.Now()
	assertOwnResults(t, getConcurrently(client, protocol.OpContainerGet, []string{"web0"}))
	if elapsed := time.Since(started); elapsed < 100*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("read behind a stuck request took %s, want about the 100ms busy window", elapsed)
	}
}

func TestCoalesceSeparatesStateDirs(t *testing.T) {
	client, requests, _ := newCoalesceTestClient(t, shortWindow, time.Hour, reverseEchoServe)
	other := client.Target()
	other.StateDir = t.TempDir() + "/other-state"
	installFakeHelper(t, other)
	otherClient, err := client.conn.pool.Get(context.Background(), other)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}

	var wg sync.WaitGroup
	for _, c := range []*Client{client, otherClient} {
		wg.Go(func() { assertOwnResults(t, getConcurrently(c, protocol.OpContainerGet, containerNames(2))) })
	}
	wg.Wait()

	sent := requests.all()
	if len(sent) != 2 {
		t.Fatalf("helper ran %d times, want once per state folder", len(sent))
	}
	if sent[0].StateDir == sent[1].StateDir {
		t.Errorf("both requests name state folder %s, want one request per folder", sent[0].StateDir)
	}
}
