package worker_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/reconcile"
)

// Issue 14, defect 1, as an operator meets it: gifts FAILED by forced failure after their five
// attempts; a leftover copy of each original message (series 0, force_failure) still on the main
// queue, one receive from its last (a duplicate publish leaves exactly such a copy); an operator
// retry of each; then the worker runs. Every stale copy is superseded (deleted without effect), and
// every gift ends SENT by the new series' own attempt: none is failed by its earlier series.
func TestAStaleMessageOfAnEarlierSeriesNeverFailsTheRetriedGift(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, options{manual: true})
	const n = 10
	sends := h.create(n, n)
	for _, s := range sends {
		series := gift.Series{GiftID: s.GiftID, RequestID: s.RequestID}
		for range 5 { // the five forced attempts, as the worker counts them
			if _, ok, err := h.store.BeginAttempt(ctx, series, uuid.New(), 5, 0); !ok || err != nil {
				t.Fatalf("begin attempt: %v %v", ok, err)
			}
		}
		if ok, err := h.store.MarkFailed(ctx, series, "send failed on all 5 attempts; last error: forced"); !ok || err != nil {
			t.Fatalf("MarkFailed: %v %v", ok, err)
		}
	}
	// The stale copies, received four times each (the worker's receive will be their fifth).
	h.publishSends(sends)
	probe := sqs.NewConsumer(h.queues.Client, h.queues.URL)
	for round := 1; round <= 4; round++ {
		// Each round takes every copy once (held until the round ends), then releases them.
		var held []queue.Received
		for len(held) < n {
			msgs, err := probe.Receive(ctx, 10, time.Second, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if m.ReceiveCount != round {
					t.Fatalf("receive %d of a stale copy counted %d", round, m.ReceiveCount)
				}
			}
			held = append(held, msgs...)
		}
		if err := probe.Release(ctx, held); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range sends {
		r, err := h.store.RetryFailed(ctx, s.GiftID, "alice", "provider fixed")
		if err != nil || r.Series != 1 {
			t.Fatalf("retry: %+v %v", r, err)
		}
	}

	// The worker meets the stale copies first; the new series' messages follow once those are
	// gone, as the outbox relay would publish them.
	h.run()
	testenv.Eventually(t, 30*time.Second, "the stale copies handled", func() (bool, string) {
		d := h.depth(h.queues.URL)
		return d.Total() == 0, fmt.Sprintf("queue %+v", d)
	})
	if got := h.relayOutbox(); got != n {
		t.Fatalf("%d outbox messages after the retries, want %d (only the new series')", got, n)
	}
	h.settled(30*time.Second, sends)
	if s := h.statuses(); s[gift.StatusSent] != n {
		t.Fatalf("statuses: %v; want every retried gift SENT", s)
	}
	for _, s := range sends {
		if c := h.sender.count(s.GiftID); c != 1 {
			t.Errorf("gift %s: %d sends, want 1 (the new series' attempt only)", s.GiftID, c)
		}
		sent := h.lines(map[string]any{"msg": "gift sent", "gift_id": s.GiftID, "series": 1, "attempt": 1})
		if len(sent) != 1 {
			t.Errorf("gift %s: sent lines of series 1 attempt 1: %v", s.GiftID, sent)
		}
	}
	if l := h.lines(map[string]any{"status": "SUPERSEDED", "series": 0, "receive_count": 5}); len(l) != n {
		t.Fatalf("%d SUPERSEDED lines, want %d: %v", len(l), n, l)
	}
	if l := h.lines(map[string]any{"error_code": "SEND_FAILED_FINAL"}); len(l) != 0 {
		t.Fatalf("a gift was failed: %v", l)
	}
	if d := h.depth(h.queues.DLQURL); d.Total() != 0 {
		t.Fatalf("DLQ: %+v", d)
	}
}

// Issue 14, defect 3: the worker holds messages while PostgreSQL cannot be reached, one of them
// at its fifth (last) receive, and is stopped (SIGTERM) during the outage: the shutdown releases
// them with no attempt begun. Afterwards no gift is FAILED for attempts that never ran: the
// database counted none, the message that reached the DLQ is queued again by the reconciler, and
// every gift ends SENT on its first attempt (failure rate 0).
func TestAShutdownDuringAnOutageSpendsNoAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	through, _, proxy := proxiedDatabase(t)
	var cut atomic.Bool
	h := newHarness(t, options{databaseURL: through, manual: true, visibility: 2 * time.Second,
		// The database becomes unreachable (connections reset) right after the worker received its
		// messages and before it reads their gifts.
		afterReceive: func([]queue.Received) {
			if cut.CompareAndSwap(false, true) {
				proxy.ResetPeer(faultproxy.Upstream, 0)
			}
		}})
	sends := h.create(3, 0)
	// The API's dispatcher published them: their outbox rows are gone.
	for _, s := range sends {
		if _, err := h.pool.Exec(ctx, `DELETE FROM outbox_messages WHERE gift_id = $1`, s.GiftID); err != nil {
			t.Fatal(err)
		}
	}
	last := sends[0]
	h.publishSends(sends[:1])
	probe := sqs.NewConsumer(h.queues.Client, h.queues.URL)
	for round := 1; round <= 4; round++ { // four earlier receives (earlier outages, say)
		msgs, err := probe.Receive(ctx, 10, time.Second, time.Minute)
		if err != nil || len(msgs) != 1 || msgs[0].ReceiveCount != round {
			t.Fatalf("receive %d: %+v %v", round, msgs, err)
		}
		if err := probe.Release(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	h.publishSends(sends[1:])

	h.run()
	testenv.Eventually(t, 20*time.Second, "three messages held with the database unreachable", func() (bool, string) {
		d := h.depth(h.queues.URL)
		return !h.gate.State().Open && d.InFlight == 3, fmt.Sprintf("gate %+v, queue %+v", h.gate.State(), d)
	})
	h.shutdown() // SIGTERM: the budget ends the wait and the messages are released
	if l := h.lines(map[string]any{"msg": "shutdown budget spent before the message was finished: released for another worker"}); len(l) != 3 {
		t.Fatalf("%d messages released at shutdown, want 3", len(l))
	}
	proxy.RemoveAll()

	for _, s := range sends {
		st, err := h.store.SendState(ctx, s.GiftID, s.RequestID)
		if err != nil || st.Status != gift.StatusQueued || st.Attempts != 0 {
			t.Fatalf("gift after the outage: %+v %v; want QUEUED with no attempt counted", st, err)
		}
	}

	// The next worker and the DLQ reconciler; the outbox relay publishes what the reconciler
	// queues again.
	var logs testenv.LogBuffer
	r := reconcile.New(sqs.NewConsumer(h.queues.Client, h.queues.DLQURL), h.store, 200*time.Millisecond, 5, logging.New(&logs, "worker", -4))
	rctx, stopReconciler := context.WithCancel(ctx)
	reconciled := make(chan struct{})
	go func() { defer close(reconciled); r.Run(rctx) }()
	defer func() { stopReconciler(); <-reconciled }()
	h.run()
	testenv.Eventually(t, 60*time.Second, "every gift SENT", func() (bool, string) {
		h.relayOutbox()
		s := h.statuses()
		return s[gift.StatusSent] == len(sends), fmt.Sprint(s)
	})
	if s := h.statuses(); s[gift.StatusFailed] != 0 {
		t.Fatalf("statuses: %v", s)
	}
	for _, s := range sends {
		if sent := h.lines(map[string]any{"msg": "gift sent", "gift_id": s.GiftID, "attempt": 1}); len(sent) != 1 {
			t.Fatalf("gift %s not sent once on attempt 1: %v", s.GiftID, h.lines(map[string]any{"gift_id": s.GiftID}))
		}
	}
	if !strings.Contains(logs.String(), `"gift_id":"`+last.GiftID.String()) || !strings.Contains(logs.String(), "gift queued again") {
		t.Fatalf("the reconciler did not queue the gift at its last receive again:\n%s", logs.String())
	}
	events, err := h.store.History(ctx, last.GiftID)
	if err != nil || len(events) != 4 || events[2].Actor != gift.ActorReconciler || events[2].To != gift.StatusQueued {
		t.Fatalf("history of the gift that reached the DLQ: %+v %v", events, err)
	}
	testenv.Eventually(t, 20*time.Second, "queue and DLQ empty", func() (bool, string) {
		m, d := h.depth(h.queues.URL), h.depth(h.queues.DLQURL)
		return m.Total() == 0 && d.Total() == 0, fmt.Sprintf("queue %+v, DLQ %+v", m, d)
	})
}

// Copies of one message delivered at once (duplicate publishes) run at most one attempt at a time:
// the copies that come while an attempt runs wait for it, and after it the gift is SENT once and
// sent once.
func TestDuplicateCopiesRunOneAttemptAtATime(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{latency: time.Second, visibility: 3 * time.Second})
	s := h.create(1, 0)[0]
	body, err := queue.Parse([]byte(s.Body))
	if err != nil || body.GiftID != s.GiftID {
		t.Fatal(err)
	}
	for range 5 {
		h.publish(s.Body)
	}
	testenv.Eventually(t, 60*time.Second, "gift SENT and every copy deleted", func() (bool, string) {
		g, d := h.gift(s.GiftID), h.depth(h.queues.URL)
		return g.Status == gift.StatusSent && d.Total() == 0, fmt.Sprintf("gift %s, queue %+v", g.Status, d)
	})
	if c := h.sender.count(s.GiftID); c != 1 {
		t.Fatalf("%d sends for five copies, want 1", c)
	}
	if l := h.lines(map[string]any{"msg": "gift sent", "gift_id": s.GiftID}); len(l) != 1 || fmt.Sprint(l[0]["attempt"]) != "1" {
		t.Fatalf("sent lines: %v", l)
	}
	if l := h.lines(map[string]any{"msg": "another delivery's attempt of this gift is running: this copy comes back after it"}); len(l) == 0 {
		t.Fatal("no copy waited: they did not arrive while the attempt ran")
	}
	var attempts int
	if err := h.pool.QueryRow(context.Background(), `SELECT attempts FROM send_requests WHERE gift_id = $1`, s.GiftID).Scan(&attempts); err != nil || attempts != 1 {
		t.Fatalf("attempts = %d, %v; want 1", attempts, err)
	}
}
