package worker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/reconcile"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/worker"
)

// dlqGifts returns the gift ids of the messages in the DLQ (a message per id, in any order), once
// nothing else holds one.
func (h *harness) dlqGifts() []uuid.UUID {
	h.t.Helper()
	dlq := sqs.NewConsumer(h.queues.Client, h.queues.DLQURL)
	msgs, err := dlq.Browse(context.Background(), 10*time.Second, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	defer func() {
		if err := dlq.Release(context.Background(), msgs); err != nil {
			h.t.Fatal(err)
		}
	}()
	ids := make([]uuid.UUID, 0, len(msgs))
	for _, m := range msgs {
		msg, err := queue.Parse([]byte(m.Body))
		if err != nil {
			h.t.Fatalf("DLQ message %q: %v", m.Body, err)
		}
		ids = append(ids, msg.GiftID)
	}
	return ids
}

// A FAILED gift has its message in the DLQ even when its attempts were spread over two copies of
// the message (a duplicate publish), so that no copy reached its maxReceiveCount-th receive and
// SQS's redrive would move none: the worker moves the message of the gift it fails to the DLQ
// itself, and nothing stays on the send queue (issue 14, found by the lifecycle test's invariant
// e).
func TestAFailedGiftHasItsMessageInTheDLQ(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	sends := h.queued(3, 3)
	h.publishSends(sends) // every message twice
	h.settled(60*time.Second, sends)
	if s := h.statuses(); s[gift.StatusFailed] != 3 {
		t.Fatalf("statuses %v; want the 3 forced gifts FAILED", s)
	}
	testenv.Eventually(t, 30*time.Second, "every copy off the send queue, each FAILED gift's message in the DLQ", func() (bool, string) {
		main, dlq := h.depth(h.queues.URL), h.depth(h.queues.DLQURL)
		return main.Total() == 0 && dlq.Total() >= 3, fmt.Sprintf("send queue %+v, DLQ %+v", main, dlq)
	})
	got := h.dlqGifts()
	for _, s := range sends {
		if !slices.Contains(got, s.GiftID) {
			t.Fatalf("FAILED gift %s has no message in the DLQ (DLQ holds %v)", s.GiftID, got)
		}
	}
}

// failingDeadLetters refuses the first n copies to the DLQ, as an SQS outage of the DLQ would.
type failingDeadLetters struct {
	next worker.DeadLetters
	left atomic.Int32
}

func (f *failingDeadLetters) PublishTraced(ctx context.Context, m queue.Outgoing) error {
	if f.left.Add(-1) >= 0 {
		return errors.New("DLQ unavailable (injected)")
	}
	return f.next.PublishTraced(ctx, m)
}

// If the copy to the DLQ fails, FAILED is not stored (a FAILED gift without its message in the
// DLQ is what must never be): the gift stays QUEUED with its attempts spent, and is failed without
// another attempt when a copy of its message comes back (the worker moves it then), or, if that
// copy's receives ran out, by the DLQ reconciler once SQS has moved it. Two copies of the message
// (a duplicate publish) make both paths possible; either way the gift ends FAILED with its
// message in the DLQ.
func TestAFailedCopyToTheDLQStoresNothingAndIsTriedAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{manual: true, wrapDeadLetters: func(next worker.DeadLetters) worker.DeadLetters {
		dl := &failingDeadLetters{next: next}
		dl.left.Store(1)
		return dl
	}})
	sends := h.queued(1, 1)
	h.publishSends(sends)
	id := sends[0].GiftID
	// The reconciler sweeps between the test's polls (each sweep of a DLQ this small releases
	// what it read before it returns, so the DLQ can be read afterwards).
	var logs testenv.LogBuffer
	r := reconcile.New(sqs.NewConsumer(h.queues.Client, h.queues.DLQURL), h.store, time.Minute, 5, logging.New(&logs, "worker", -4))
	h.run()
	testenv.Eventually(t, 30*time.Second, "the refused copy to the DLQ", func() (bool, string) {
		return len(h.lines(map[string]any{"error_code": worker.CodeQueueUnavailable, "gift_id": id.String()})) > 0, ""
	})
	if g := h.gift(id); g.Status != gift.StatusQueued {
		t.Fatalf("gift %s right after its copy to the DLQ failed; want QUEUED until a copy is made", g.Status)
	}
	testenv.Eventually(t, 30*time.Second, "the gift FAILED, the send queue empty and the gift's message in the DLQ", func() (bool, string) {
		if _, err := r.Sweep(context.Background()); err != nil {
			return false, err.Error()
		}
		g, main, dlq := h.gift(id), h.depth(h.queues.URL), h.depth(h.queues.DLQURL)
		return g.Status == gift.StatusFailed && main.Total() == 0 && dlq.Total() >= 1,
			fmt.Sprintf("gift %s, send queue %+v, DLQ %+v", g.Status, main, dlq)
	})
	if got := h.dlqGifts(); !slices.Contains(got, id) {
		t.Fatalf("the DLQ holds %v; want gift %s", got, id)
	}
	if n := h.sender.count(id); n != 5 {
		t.Fatalf("%d pseudo-sends; want the 5 attempts and none more", n)
	}
}
