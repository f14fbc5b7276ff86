package device

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Terraform reads every resource at once during a plan, and each SSH exec starts the device
// user's login shell, which can cost far more than the helper call. Reads that reach one device
// close together therefore share one request. The figures below were measured on a local device
// (2 CPUs, Terraform 1.11.4): arrival times in no-op plans of 10 containers, latencies of reads
// through this package over one warm connection.
const (
	// idleWindow is how long a batch waits for more reads when no read request to the device is
	// running. When the reads queue behind a new connection's dial, all ten arrived within 0.2
	// to 0.9 ms of the first. A read that comes alone pays for the wait. Its median rose from
	// 13.7 to 16.3 ms with a plain login shell. With a login shell whose start-up files take
	// about 150 ms, it stayed within the noise of about 190 ms.
	idleWindow = 2 * time.Millisecond

	// busyWindow bounds how long a batch waits for more reads while another read request to the
	// device is running. The batch is sent as soon as that request ends. With the device
	// resource in the same configuration, Terraform released the ten container reads over 25 to
	// 33 ms, after the device's own reads.
	busyWindow = 50 * time.Millisecond

	// maxCoalescedCalls caps the calls in one request. The helper runs them one after another.
	// That is cheap, because one helper process serves them all: ten concurrent container.get
	// reads in one request took a median of 24 ms, one alone 16 ms. But a read that waits for a
	// lock holds up the reads after it. Ten matches Terraform's default parallelism.
	maxCoalescedCalls = 10

	// maxCoalescedParamBytes caps the encoded parameters of one request, far below
	// protocol.MaxRequestBytes. A read whose parameters alone exceed it goes in a request of its
	// own. Read results take kilobytes, so the shared response stays far below
	// maxResponseSize.
	maxCoalescedParamBytes = 1 << 20
)

// coalescedOps lists the operations that only read and may share a request. The helper runs
// them without a lock (hello, facts) or under the state folder's shared lock. Changes are never
// coalesced, so that one slow or failing change cannot hold up another.
//
// NOTE: the helper runs a request's calls in order, so a read that waits for a lock, such as a
// container.get while another Terraform run changes that container, delays the reads after it
// in the same request.
var coalescedOps = map[string]bool{
	protocol.OpHello:        true,
	protocol.OpFacts:        true,
	protocol.OpInventory:    true,
	protocol.OpContainerGet: true,
	protocol.OpNetworkGet:   true,
	protocol.OpNetworkCheck: true,
	protocol.OpProfileGet:   true,
	protocol.OpRecordingGet: true,
}

// readCoalescer gathers the reads on one connection into batches. Reads for different state
// folders or LXC paths never share a request, because those are fields of the request.
type readCoalescer struct {
	idleWindow time.Duration
	busyWindow time.Duration
	log        func() Logger

	mu    sync.Mutex
	lanes map[batchKey]*readLane
}

type batchKey struct {
	stateDir string
	lxcPath  string
}

// readLane is the coalescing state of one batchKey.
type readLane struct {
	// open is the batch that takes new reads, or nil.
	open *readBatch

	// running counts the requests sent and not yet completed. idle is closed when running
	// drops to zero, and is nil while nothing runs.
	running int
	idle    chan struct{}
}

// readBatch is one request in the making. The fields up to done are guarded by
// readCoalescer.mu. response and err are written once, before done is closed.
type readBatch struct {
	client *Client

	// ctx outlives any one caller, so a caller that gives up leaves the request running for
	// the others. cancel ends it once every caller has left.
	ctx    context.Context
	cancel context.CancelFunc

	calls      []protocol.Call
	paramBytes int
	waiting    int
	sealed     bool
	full       chan struct{}

	done     chan struct{}
	response *protocol.Response
	err      error
}

func newReadCoalescer(idleWindow, busyWindow time.Duration, log func() Logger) *readCoalescer {
	return &readCoalescer{
		idleWindow: idleWindow,
		busyWindow: busyWindow,
		log:        log,
		lanes:      make(map[batchKey]*readLane),
	}
}

// call sends call in a batch with the reads that arrive close to it and returns the call's
// result. A failure of the whole request is returned to every caller in the batch. When ctx
// ends first, call returns at once with ctx's error, and the request goes on for the others.
func (r *readCoalescer) call(
	ctx context.Context, client *Client, call protocol.Call,
) (protocol.Result, error) {
	batch, index := r.join(ctx, client, call)
	select {
	case <-batch.done:
		if batch.err != nil {
			return protocol.Result{}, batch.err
		}
		return batch.response.Results[index], nil
	case <-ctx.Done():
		r.leave(client, batch)
		return protocol.Result{}, fmt.Errorf("run helper on device %s: %w", client.target.ID(), ctx.Err())
	}
}

// join adds call to the lane's open batch and returns the batch and the call's index in it. It
// starts a batch when there is none or the open one has no room, and seals a batch it fills.
func (r *readCoalescer) join(
	ctx context.Context, client *Client, call protocol.Call,
) (*readBatch, int) {
	key := keyOf(client)
	r.mu.Lock()
	defer r.mu.Unlock()
	batch := r.laneLocked(key).open
	if batch != nil && batch.paramBytes+len(call.Params) > maxCoalescedParamBytes {
		r.sealLocked(key, batch)
		batch = nil
	}
	if batch == nil {
		batch = r.startLocked(ctx, key, client)
		r.laneLocked(key).open = batch
	}
	index := len(batch.calls)
	call.ID = index + 1
	batch.calls = append(batch.calls, call)
	batch.paramBytes += len(call.Params)
	batch.waiting++
	if len(batch.calls) >= maxCoalescedCalls || batch.paramBytes > maxCoalescedParamBytes {
		r.sealLocked(key, batch)
	}
	return batch, index
}

func keyOf(client *Client) batchKey {
	return batchKey{stateDir: client.target.StateDir, lxcPath: client.target.LXCPath}
}

// laneLocked returns the lane of key, creating it when there is none.
func (r *readCoalescer) laneLocked(key batchKey) *readLane {
	lane := r.lanes[key]
	if lane == nil {
		lane = &readLane{}
		r.lanes[key] = lane
	}
	return lane
}

// startLocked creates a batch and the goroutine that sends it.
func (r *readCoalescer) startLocked(ctx context.Context, key batchKey, client *Client) *readBatch {
	// The request keeps the first caller's values, such as its tflog logger, but not its
	// cancellation or deadline.
	batchCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	batch := &readBatch{
		client: client,
		ctx:    batchCtx,
		cancel: cancel,
		full:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go r.send(key, batch)
	return batch
}

// sealLocked closes batch to new reads and wakes its sender.
func (r *readCoalescer) sealLocked(key batchKey, batch *readBatch) {
	if batch.sealed {
		return
	}
	batch.sealed = true
	close(batch.full)
	if lane := r.lanes[key]; lane != nil && lane.open == batch {
		lane.open = nil
		r.pruneLocked(key, lane)
	}
}

// pruneLocked deletes a lane with no open batch and no running request.
func (r *readCoalescer) pruneLocked(key batchKey, lane *readLane) {
	if lane.open == nil && lane.running == 0 {
		delete(r.lanes, key)
	}
}

// leave records that a caller of batch stopped waiting, and cancels the batch when it was the
// last one. An unsent batch is then dropped, and a running request is cancelled.
func (r *readCoalescer) leave(client *Client, batch *readBatch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	batch.waiting--
	if batch.waiting == 0 {
		r.sealLocked(keyOf(client), batch)
		batch.cancel()
	}
}

// send waits until the batch is due, then sends its calls in one request.
func (r *readCoalescer) send(key batchKey, batch *readBatch) {
	defer close(batch.done)
	defer batch.cancel()

	r.collect(key, batch)
	calls, ok := r.begin(key, batch)
	if !ok {
		// Every caller has left, so no caller reads this error.
		batch.err = batch.ctx.Err()
		return
	}
	defer r.end(key)

	fields := withField(targetFields(batch.client.target), "calls", len(calls))
	r.log().Debug(batch.ctx, "sending coalesced helper reads", fields)
	batch.response, batch.err = batch.client.Batch(batch.ctx, calls)
}

// collect returns when the batch is due: when it is full or every caller has left, after the
// idle window when no read request runs, and otherwise when the running requests end or the
// busy window has passed.
func (r *readCoalescer) collect(key batchKey, batch *readBatch) {
	started := time.Now()
	timer := time.NewTimer(r.idleWindow)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-batch.full:
		return
	case <-batch.ctx.Done():
		return
	}

	r.mu.Lock()
	var idle chan struct{}
	if lane := r.lanes[key]; lane != nil {
		idle = lane.idle
	}
	r.mu.Unlock()
	if idle == nil {
		return
	}
	timer.Reset(r.busyWindow - time.Since(started))
	select {
	case <-timer.C:
	case <-idle:
	case <-batch.full:
	case <-batch.ctx.Done():
	}
}

// begin seals the batch and counts its request as running. It returns the calls to send, and
// false when every caller has left.
func (r *readCoalescer) begin(key batchKey, batch *readBatch) ([]protocol.Call, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sealLocked(key, batch)
	if batch.ctx.Err() != nil {
		return nil, false
	}
	lane := r.laneLocked(key)
	lane.running++
	if lane.idle == nil {
		lane.idle = make(chan struct{})
	}
	return batch.calls, true
}

// end counts a request of the lane as completed.
func (r *readCoalescer) end(key batchKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lane := r.lanes[key]
	lane.running--
	if lane.running == 0 {
		close(lane.idle)
		lane.idle = nil
		r.pruneLocked(key, lane)
	}
}
