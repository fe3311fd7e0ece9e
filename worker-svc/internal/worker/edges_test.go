package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// WORKER_RECEIVE_WAIT=0 leaves the long-poll wait to the queue (ReceiveMessageWaitTimeSeconds, 20 s
// in Terraform). The receive must be bounded past the queue's wait, not cut off while SQS still
// holds the poll open: here the queue waits 11 s, longer than the margin a zero wait alone would
// give, and the first receive returns empty-handed without an error.
func TestAZeroWaitLongPollsForTheQueuesOwnWait(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{wait: queueWait, queueWaitSeconds: 11})
	testenv.Eventually(t, 40*time.Second, "the first receive to return", func() (bool, string) {
		calls, underWay := h.queue.receives()
		return calls-underWay >= 1, fmt.Sprintf("%d receives, %d under way", calls, underWay)
	})
	if errs := h.queue.receiveErrors(); len(errs) != 0 {
		t.Fatalf("a receive on the queue's own wait failed: %v", errs)
	}
	if l := h.lines(map[string]any{"error_code": "QUEUE_UNAVAILABLE"}); len(l) != 0 {
		t.Fatalf("receive logged as failed: %v", l)
	}
}

// One slow statement is not an outage. The worker reaches PostgreSQL through a fault proxy that
// delays every answer (50 ms, +-25 ms: a slower network, well within DB_QUERY_TIMEOUT), and a
// transaction holds the row lock of one gift, so the worker's UPDATE of that gift waits until
// DB_QUERY_TIMEOUT (2 s here) while the database answers everything else: that message's attempt
// fails and is retried after the backoff, the other gifts are sent meanwhile, and receiving never
// pauses. Once the lock is gone the gift is sent on a later attempt.
func TestASlowStatementFailsItsOwnAttemptOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	through, url, proxy := proxiedDatabase(t)
	proxy.AddLatency(faultproxy.Downstream, 50*time.Millisecond, 25*time.Millisecond)
	h := newHarness(t, options{databaseURL: through, concurrency: 10})
	sends := h.create(5, 0)
	locked := sends[0].GiftID

	holder, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM gifts WHERE id = $1 FOR UPDATE`, locked); err != nil {
		t.Fatal(err)
	}
	h.publishSends(sends)

	testenv.Eventually(t, 30*time.Second, "the other gifts SENT and the locked one's attempt failed", func() (bool, string) {
		s := h.statuses()
		failed := h.lines(map[string]any{"error_code": "DB_STATEMENT_TIMEOUT", "gift_id": locked})
		return s[gift.StatusSent] == len(sends)-1 && len(failed) > 0, fmt.Sprintf("%v, %d failed attempts", s, len(failed))
	})
	if g := h.gift(locked); g.Status != gift.StatusQueued {
		t.Fatalf("locked gift is %s while its row is locked", g.Status)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	h.settled(30*time.Second, sends)
	if s := h.statuses(); s[gift.StatusSent] != len(sends) {
		t.Fatalf("statuses: %v", s)
	}
	sent := h.lines(map[string]any{"msg": "gift sent", "gift_id": locked})
	// The statement that timed out was the one that begins the attempt (it takes the gift's row
	// lock), so no attempt was spent: sent on a later receive, counted as its first attempt.
	if len(sent) != 1 || fmt.Sprint(sent[0]["receive_count"]) == "1" || fmt.Sprint(sent[0]["attempt"]) != "1" {
		t.Fatalf("the locked gift was sent %v; want once, on a later receive than the one that timed out, as attempt 1", sent)
	}
	if l := h.lines(map[string]any{"error_code": "DB_UNAVAILABLE"}); len(l) != 0 {
		t.Fatalf("a slow statement paused receiving: %v", l)
	}
	if d := h.depth(h.queues.DLQURL); d.Total() != 0 {
		t.Fatalf("DLQ: %+v", d)
	}
}
