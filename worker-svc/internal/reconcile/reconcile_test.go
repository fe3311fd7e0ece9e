package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/reconcile"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/seed"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{Postgres: true, SQS: true}, &env) }

func queued(t *testing.T, store *postgres.Store) seed.Send {
	t.Helper()
	s, err := seed.Queued(context.Background(), store, false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// attempts begins n attempts of s's series as the worker would (each ended at once, lease 0).
func attempts(t *testing.T, store *postgres.Store, s seed.Send, n int) {
	t.Helper()
	for range n {
		if _, ok, err := store.BeginAttempt(context.Background(), gift.Series{GiftID: s.GiftID, RequestID: s.RequestID}, uuid.New(), n, 0); !ok || err != nil {
			t.Fatalf("begin attempt: %v %v", ok, err)
		}
	}
}

func status(t *testing.T, store *postgres.Store, id uuid.UUID) gift.Gift {
	t.Helper()
	g, err := store.GetGift(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func depth(t *testing.T, q testenv.Queues, url string) queue.Depth {
	t.Helper()
	d, err := sqs.QueueDepth(context.Background(), q.Client, url)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The corner the retry policy leaves open, produced the way it happens: a worker takes the last
// allowed delivery and dies before it can store FAILED, so SQS moves the message to the DLQ with
// the gift still QUEUED. A sweep marks it FAILED, records the reconciler in the gift's history,
// and leaves the message in the DLQ, visible at once: an operator's listing (a browse, as
// `giftctl dlq list` does it) sees it right after the gift turned FAILED.
func TestSweepFailsAQueuedGiftWhoseMessageIsInTheDLQ(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, store := env.NewStore(t)
	q := env.NewQueues(t, 1)
	s := queued(t, store)
	if err := seed.Publish(ctx, sqs.NewPublisher(q.Client, q.URL), s); err != nil {
		t.Fatal(err)
	}
	main := sqs.NewConsumer(q.Client, q.URL)
	if got, err := main.Receive(ctx, 10, time.Second, time.Second); err != nil || len(got) != 1 {
		t.Fatalf("the dying worker's receive: %d messages, %v", len(got), err)
	}
	attempts(t, store, s, 1) // it begins its attempt...
	// ...and it dies. When the visibility timeout ends, the next receive finds its one allowed
	// attempt spent and moves it to the DLQ instead of returning it.
	if got, err := main.Receive(ctx, 10, 5*time.Second, time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("receive past maxReceiveCount: %d messages, %v", len(got), err)
	}
	if d := depth(t, q, q.DLQURL); d.Visible != 1 {
		t.Fatalf("DLQ: %+v", d)
	}

	var logs testenv.LogBuffer
	dlq := sqs.NewConsumer(q.Client, q.DLQURL)
	r := reconcile.New(dlq, store, time.Minute, 1, logging.New(&logs, "worker", 0))
	res, err := r.Sweep(ctx)
	if err != nil || res != (reconcile.Result{Read: 1, Settled: 1, Failed: 1}) {
		t.Fatalf("sweep: %+v, %v", res, err)
	}
	g := status(t, store, s.GiftID)
	if g.Status != gift.StatusFailed || g.LastError == nil || *g.LastError != gift.ExhaustedReason(1, gift.ReachedDLQ) {
		t.Fatalf("gift after the sweep: %s, last_error %v", g.Status, g.LastError)
	}
	events, err := store.History(ctx, s.GiftID)
	if last := events[len(events)-1]; err != nil || last.Actor != gift.ActorReconciler || last.To != gift.StatusFailed {
		t.Fatalf("history after the sweep: %+v, %v", events, err)
	}
	if d := depth(t, q, q.DLQURL); d.Visible != 1 || d.InFlight != 0 {
		t.Fatalf("DLQ after the sweep: %+v; want the message kept and visible", d)
	}
	listed, err := dlq.Browse(ctx, time.Minute, 10)
	if err != nil || len(listed) != 1 || listed[0].Body != s.Body {
		t.Fatalf("listing right after the sweep: %+v, %v", listed, err)
	}
	if err := dlq.Release(ctx, listed); err != nil {
		t.Fatal(err)
	}
	line := logs.String()
	for _, want := range []string{`"level":"ERROR"`, `"error_code":"SEND_FAILED_FINAL"`, `"status":"FAILED"`, `"reconciled":true`,
		`"gift_id":"` + s.GiftID.String() + `"`, `"request_id":"` + s.RequestID + `"`} {
		if !strings.Contains(line, want) {
			t.Fatalf("log lacks %s:\n%s", want, line)
		}
	}

	// Remembered: the next sweep reads the message again but settles nothing.
	if res, err := r.Sweep(ctx); err != nil || res != (reconcile.Result{Read: 1}) {
		t.Fatalf("second sweep: %+v, %v", res, err)
	}
}

// A message of an earlier attempt series that is still in the DLQ after an operator retry (it was
// in the main queue or in someone's hands while the retry cleaned the DLQ) never fails the retried
// gift, even when the reconciler sees it for the first time after the retry.
func TestSweepNeverFailsARetriedGiftForAnEarlierMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, store := env.NewStore(t)
	q := env.NewQueues(t, 5)
	s := queued(t, store)
	if _, err := store.MarkFailed(ctx, gift.Series{GiftID: s.GiftID, RequestID: s.RequestID}, "boom"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.RetryFailed(ctx, s.GiftID, "alice", "fixed"); err != nil {
		t.Fatal(err)
	}
	if err := seed.Publish(ctx, sqs.NewPublisher(q.Client, q.DLQURL), s); err != nil { // the first series' message
		t.Fatal(err)
	}
	r := reconcile.New(sqs.NewConsumer(q.Client, q.DLQURL), store, time.Minute, 5, logging.New(&testenv.LogBuffer{}, "worker", 0))
	if res, err := r.Sweep(ctx); err != nil || res != (reconcile.Result{Read: 1, Settled: 1}) {
		t.Fatalf("sweep: %+v, %v", res, err)
	}
	if g := status(t, store, s.GiftID); g.Status != gift.StatusQueued {
		t.Fatalf("the retried gift became %s", g.Status)
	}
}

// Only a QUEUED gift under the message's own send request is failed; everything else in the DLQ
// is read, left alone and kept.
func TestSweepLeavesEverythingElseAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, store := env.NewStore(t)
	q := env.NewQueues(t, 5)
	sent := queued(t, store)
	if _, err := store.MarkSent(ctx, gift.Series{GiftID: sent.GiftID, RequestID: sent.RequestID}); err != nil {
		t.Fatal(err)
	}
	otherKey := queued(t, store)
	bodies := []string{
		sent.Body, // already SENT
		fmt.Sprintf(`{"gift_id":%q,"request_id":"not-its-key"}`, otherKey.GiftID), // QUEUED, but by another request
		fmt.Sprintf(`{"gift_id":%q,"request_id":"k"}`, uuid.New()),                // no such gift
		`not a send request`,
	}
	p := sqs.NewPublisher(q.Client, q.DLQURL)
	for _, b := range bodies {
		if err := p.Publish(ctx, b); err != nil {
			t.Fatal(err)
		}
	}

	r := reconcile.New(sqs.NewConsumer(q.Client, q.DLQURL), store, time.Minute, 5, logging.New(&testenv.LogBuffer{}, "worker", 0))
	res, err := r.Sweep(ctx)
	if err != nil || res != (reconcile.Result{Read: len(bodies), Settled: len(bodies)}) {
		t.Fatalf("sweep: %+v, %v", res, err)
	}
	if g := status(t, store, sent.GiftID); g.Status != gift.StatusSent || g.LastError != nil {
		t.Fatalf("SENT gift became %s", g.Status)
	}
	if g := status(t, store, otherKey.GiftID); g.Status != gift.StatusQueued {
		t.Fatalf("a message with another request id moved the gift to %s", g.Status)
	}
	if d := depth(t, q, q.DLQURL); d.Visible != len(bodies) {
		t.Fatalf("DLQ after the sweep: %+v; nothing may be deleted or kept hidden", d)
	}
}

// unavailableStore answers as a database that cannot be reached.
type unavailableStore struct{ *postgres.Store }

func (unavailableStore) DLQSettled(context.Context, []string) (map[string]gift.Settlement, error) {
	return nil, fmt.Errorf("read settled DLQ messages: %w", gift.Unavailable(errors.New("connection refused")))
}

// With the database unreachable the sweep stops and makes the messages it took visible again, so
// the next sweep (with the database back) finds them at once.
func TestSweepWithTheDatabaseDownReleasesWhatItTook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, store := env.NewStore(t)
	q := env.NewQueues(t, 5)
	s := queued(t, store)
	if err := seed.Publish(ctx, sqs.NewPublisher(q.Client, q.DLQURL), s); err != nil {
		t.Fatal(err)
	}
	dlq := sqs.NewConsumer(q.Client, q.DLQURL)
	log := logging.New(&testenv.LogBuffer{}, "worker", 0)

	attempts(t, store, s, 5)
	res, err := reconcile.New(dlq, unavailableStore{store}, time.Minute, 5, log).Sweep(ctx)
	if !errors.Is(err, gift.ErrUnavailable) || res != (reconcile.Result{Read: 1}) {
		t.Fatalf("sweep with the database down: %+v, %v", res, err)
	}
	if d := depth(t, q, q.DLQURL); d.Visible != 1 {
		t.Fatalf("DLQ after the failed sweep: %+v; want the message visible again", d)
	}
	// Run reports a sweep that stopped early with its code, and goes on.
	var logs testenv.LogBuffer
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		reconcile.New(dlq, unavailableStore{store}, time.Hour, 5, logging.New(&logs, "worker", 0)).Run(runCtx)
	}()
	testenv.Eventually(t, 20*time.Second, "the failed sweep logged", func() (bool, string) { return strings.Contains(logs.String(), `"error_code":"DLQ_SWEEP_FAILED"`), "" })
	cancel()
	<-done
	if line := logs.String(); !strings.Contains(line, `"level":"WARN"`) || !strings.Contains(line, "read settled DLQ messages: unavailable") {
		t.Fatalf("sweep failure log: %s", line)
	}

	res, err = reconcile.New(dlq, store, time.Minute, 5, log).Sweep(ctx)
	if err != nil || res != (reconcile.Result{Read: 1, Settled: 1, Failed: 1}) {
		t.Fatalf("sweep with the database back: %+v, %v", res, err)
	}
}

// countingQueue counts the reconciler's browses.
type countingQueue struct {
	*sqs.Consumer
	mu    sync.Mutex
	calls int
}

func (q *countingQueue) Browse(ctx context.Context, hold time.Duration, limit int) ([]queue.Received, error) {
	q.mu.Lock()
	q.calls++
	q.mu.Unlock()
	return q.Consumer.Browse(ctx, hold, limit)
}

func (q *countingQueue) receives() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls
}

// Run sweeps at once when it starts (an interval of an hour does not delay the first sweep), then
// every interval (each sweep is one browse).
func TestRunSweepsAtOnceThenEveryInterval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, store := env.NewStore(t)
	q := env.NewQueues(t, 5)
	s := queued(t, store)
	if err := seed.Publish(ctx, sqs.NewPublisher(q.Client, q.DLQURL), s); err != nil {
		t.Fatal(err)
	}
	attempts(t, store, s, 5)
	log := logging.New(&testenv.LogBuffer{}, "worker", 0)
	run := func(dlq reconcile.Queue, interval time.Duration) (stop func()) {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); reconcile.New(dlq, store, interval, 5, log).Run(ctx) }()
		return func() { cancel(); <-done }
	}

	stop := run(sqs.NewConsumer(q.Client, q.DLQURL), time.Hour)
	testenv.Eventually(t, 20*time.Second, "gift FAILED by the first sweep", func() (bool, string) { return status(t, store, s.GiftID).Status == gift.StatusFailed, "" })
	stop()

	counting := &countingQueue{Consumer: sqs.NewConsumer(q.Client, q.DLQURL)}
	stop = run(counting, 100*time.Millisecond)
	testenv.Eventually(t, 20*time.Second, "three sweeps", func() (bool, string) { return counting.receives() >= 3, "" })
	stop()
}

// A message whose receives ran out before its attempts (two of five ran) is not a failure: the
// sweep queues the gift again through the outbox, records it in the history, deletes the DLQ copy
// and leaves the gift QUEUED.
func TestSweepQueuesAgainAGiftWithAttemptsLeft(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, store := env.NewStore(t)
	q := env.NewQueues(t, 5)
	s := queued(t, store)
	if _, err := pool.Exec(ctx, `DELETE FROM outbox_messages WHERE gift_id = $1`, s.GiftID); err != nil { // published
		t.Fatal(err)
	}
	attempts(t, store, s, 2)
	if err := seed.Publish(ctx, sqs.NewPublisher(q.Client, q.DLQURL), s); err != nil {
		t.Fatal(err)
	}
	r := reconcile.New(sqs.NewConsumer(q.Client, q.DLQURL), store, time.Minute, 5, logging.New(&testenv.LogBuffer{}, "worker", 0))
	if res, err := r.Sweep(ctx); err != nil || res != (reconcile.Result{Read: 1, Settled: 1, Requeued: 1}) {
		t.Fatalf("sweep: %+v, %v", res, err)
	}
	if g := status(t, store, s.GiftID); g.Status != gift.StatusQueued || g.LastError != nil {
		t.Fatalf("gift after the sweep: %s, %v", g.Status, g.LastError)
	}
	var body string
	if err := pool.QueryRow(ctx, `SELECT body FROM outbox_messages WHERE gift_id = $1`, s.GiftID).Scan(&body); err != nil || body != s.Body {
		t.Fatalf("outbox: %q, %v; want the message again", body, err)
	}
	events, err := store.History(ctx, s.GiftID)
	if last := events[len(events)-1]; err != nil || last.Actor != gift.ActorReconciler || last.From != gift.StatusQueued || last.To != gift.StatusQueued ||
		!strings.Contains(last.Reason, "after 2 of 5 attempts") {
		t.Fatalf("history: %+v, %v", events, err)
	}
	if d := depth(t, q, q.DLQURL); d.Total() != 0 {
		t.Fatalf("DLQ after the sweep: %+v; want the requeued copy deleted", d)
	}
}
