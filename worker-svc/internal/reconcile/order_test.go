package reconcile_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/reconcile"
)

// oldestFirst is a DLQ double that always hands out its oldest visible messages first, an order
// SQS is free to choose (it promises none). A received message stays hidden until it is released
// (holds never run out here: the sweeps under test take no time). The real queue is covered by the
// other tests of this package, which run against the emulator.
type oldestFirst struct {
	mu       sync.Mutex
	msgs     []queue.Received // oldest first
	hidden   map[string]bool
	receives int // messages handed out, over all browses
}

func (q *oldestFirst) add(id, body string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, queue.Received{ID: id, Body: body, ReceiptHandle: "rh-" + id, ReceiveCount: 1})
}

func (q *oldestFirst) Browse(_ context.Context, _ time.Duration, limit int) ([]queue.Received, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []queue.Received
	for _, m := range q.msgs {
		if len(out) == limit {
			break
		}
		if !q.hidden[m.ID] {
			q.hidden[m.ID] = true
			out = append(out, m)
		}
	}
	q.receives += len(out)
	return out, nil
}

func (q *oldestFirst) Release(_ context.Context, msgs []queue.Received) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range msgs {
		delete(q.hidden, m.ID)
	}
	return nil
}

// Delete removes a message (the reconciler deletes the DLQ copies of the gifts it queues again).
func (q *oldestFirst) Delete(_ context.Context, receiptHandle string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, m := range q.msgs {
		if m.ReceiptHandle == receiptHandle {
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			delete(q.hidden, m.ID)
			return nil
		}
	}
	return fmt.Errorf("no message with receipt handle %q", receiptHandle)
}

// Hide keeps received messages hidden (a longer hold); they stay hidden here anyway.
func (q *oldestFirst) Hide(context.Context, []queue.Received, time.Duration) error { return nil }

func (q *oldestFirst) visible() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs) - len(q.hidden)
}

// A DLQ larger than one sweep's share, served oldest first: 1,000 messages settled long ago, then
// the message of a gift still QUEUED. Sweeps that each looked at the first 1,000 and released them
// would never reach it; the reconciler keeps what it has seen hidden until it has seen everything,
// so the new message is settled, once, within a bounded number of sweeps, and then every message is
// visible again.
func TestSweepsReachEveryMessageWhateverTheOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, store := env.NewStore(t)
	q := &oldestFirst{hidden: map[string]bool{}}
	const old = 1000
	for i := range old {
		q.add(fmt.Sprintf("old-%04d", i), "not a send request")
	}
	if _, err := pool.Exec(ctx, `INSERT INTO dlq_settled (message_id, outcome) SELECT 'old-' || lpad(i::text, 4, '0'), 'invalid'
		FROM generate_series(0, $1 - 1) i`, old); err != nil {
		t.Fatal(err)
	}
	s := queued(t, store)
	attempts(t, store, s, 5) // its attempts all ran: the reconciler fails it
	q.add("new", s.Body)

	r := reconcile.New(q, store, time.Minute, 5, logging.New(&testenv.LogBuffer{}, "worker", 0))
	var total reconcile.Result
	for range 3 { // the pass ends once the sweeps have seen every message: stop there
		if total.Failed > 0 && q.visible() == old+1 {
			break
		}
		res, err := r.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total.Read += res.Read
		total.Settled += res.Settled
		total.Failed += res.Failed
	}
	if g := status(t, store, s.GiftID); g.Status != gift.StatusFailed {
		t.Fatalf("after 3 sweeps the gift whose message is message %d of the DLQ is %s (sweeps: %+v)", old+1, g.Status, total)
	}
	if total.Settled != 1 || total.Failed != 1 {
		t.Fatalf("sweeps: %+v; want exactly one settlement, the new message's", total)
	}
	if v := q.visible(); v != old+1 {
		t.Fatalf("%d of %d DLQ messages visible after the pass; want all of them", v, old+1)
	}
	if q.receives > 2*(old+1) {
		t.Fatalf("%d receives for %d messages: the sweeps read the DLQ more than once per pass", q.receives, old+1)
	}
}
