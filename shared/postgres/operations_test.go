package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

// transitions renders a history as "->CREATED api, CREATED->QUEUED api k, ...".
func transitions(t *testing.T, s *postgres.Store, id uuid.UUID) string {
	t.Helper()
	events, err := s.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]string, len(events))
	for i, e := range events {
		parts[i] = fmt.Sprintf("%s->%s %s", e.From, e.To, e.Actor)
		if e.RequestID != "" {
			parts[i] += " " + e.RequestID
		}
	}
	return strings.Join(parts, ", ")
}

func outboxBodies(t *testing.T, pool *pgxpool.Pool, id uuid.UUID) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT body FROM outbox_messages WHERE gift_id = $1 ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	return bodies
}

// Every status change lands in the history, in the same transaction, with its actor.
func TestHistoryRecordsEveryStatusChange(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	g := newGift(t, s, nil)
	if _, err := send(t, s, g.ID, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, s, g.ID, "k1"); err != nil { // a replay changes nothing
		t.Fatal(err)
	}
	if ok, err := s.MarkFailed(ctx, current(t, s, g.ID), "boom"); !ok || err != nil {
		t.Fatalf("MarkFailed: %v %v", ok, err)
	}
	if ok, _ := s.MarkSent(ctx, current(t, s, g.ID)); ok { // not QUEUED: no change, no event
		t.Fatal("MarkSent changed a FAILED gift")
	}
	want := "->CREATED api, CREATED->QUEUED api k1, QUEUED->FAILED worker k1"
	if got := transitions(t, s, g.ID); got != want {
		t.Fatalf("history:\n got %s\nwant %s", got, want)
	}
	events, _ := s.History(ctx, g.ID)
	if events[2].Reason != "boom" || events[0].At.IsZero() {
		t.Fatalf("FAILED event: %+v", events[2])
	}

	if _, err := pool.Exec(ctx, `UPDATE gift_events SET reason = 'rewritten'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("updating the history: %v; want it refused", err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM gift_events`); err == nil {
		t.Fatal("deleting the history was allowed")
	}
	if _, err := s.History(ctx, uuid.New()); !errors.Is(err, gift.ErrNotFound) {
		t.Fatalf("history of an unknown gift: %v", err)
	}
}

func TestRetryFailed(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)

	t.Run("refuses a gift that is not FAILED", func(t *testing.T) {
		created := newGift(t, s, nil)
		queued := newGift(t, s, nil)
		if _, err := send(t, s, queued.ID, "q"); err != nil {
			t.Fatal(err)
		}
		sent := newGift(t, s, nil)
		if _, err := send(t, s, sent.ID, "s"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MarkSent(ctx, current(t, s, sent.ID)); err != nil {
			t.Fatal(err)
		}
		for _, g := range []gift.Gift{created, queued, sent} {
			before := transitions(t, s, g.ID)
			_, err := s.RetryFailed(ctx, g.ID, "alice", "why")
			if gift.KindOf(err) != gift.KindConflict || !strings.Contains(err.Error(), "only a FAILED gift") {
				t.Fatalf("retry of a %s gift: %v", g.Status, err)
			}
			if after := transitions(t, s, g.ID); after != before {
				t.Fatalf("a refused retry changed the history: %s", after)
			}
		}
		if _, err := s.RetryFailed(ctx, uuid.New(), "alice", "why"); !errors.Is(err, gift.ErrNotFound) {
			t.Fatalf("retry of an unknown gift: %v", err)
		}
	})

	t.Run("queues a FAILED gift again as a new attempt series", func(t *testing.T) {
		g := newGift(t, s, nil)
		body := []byte(`{}`)
		msg, _ := queue.Message{GiftID: g.ID, RequestID: "k", ForceFailure: true}.Marshal()
		if _, err := s.Send(ctx, gift.SendRequest{GiftID: g.ID, RequestID: "k", ForceFailure: true}, body, msg, gift.OutboxClaim{Token: uuid.New(), Lease: time.Hour}); err != nil {
			t.Fatal(err)
		}
		// Its outbox row is left unpublished (SQS unreachable, say), and two attempts ran.
		for range 2 {
			if _, ok, err := s.BeginAttempt(ctx, current(t, s, g.ID), uuid.New(), 5, 0); !ok || err != nil {
				t.Fatalf("begin attempt: %v %v", ok, err)
			}
		}
		if _, err := s.MarkFailed(ctx, current(t, s, g.ID), "forced"); err != nil {
			t.Fatal(err)
		}

		r, err := s.RetryFailed(ctx, g.ID, "alice", "provider fixed")
		if err != nil || r.RequestID != "k" || r.Series != 1 || r.OutboxID == 0 {
			t.Fatalf("retry: %+v, %v", r, err)
		}
		got, _ := s.GetGift(ctx, g.ID)
		if got.Status != gift.StatusQueued || got.LastError != nil {
			t.Fatalf("after the retry: %s, last_error %v", got.Status, got.LastError)
		}
		bodies := outboxBodies(t, pool, g.ID)
		m, err := queue.Parse([]byte(bodies[0]))
		if len(bodies) != 1 || err != nil || m.ForceFailure || m.Retry != 1 || m.RequestID != "k" {
			t.Fatalf("outbox after the retry: %v (%+v, %v); want only the new series' message", bodies, m, err)
		}
		var force bool
		if err := pool.QueryRow(ctx, `SELECT force_failure FROM send_requests WHERE gift_id = $1`, g.ID).Scan(&force); err != nil || force {
			t.Fatalf("force_failure after the retry: %v, %v; want it cleared", force, err)
		}
		st, _ := s.SendState(ctx, g.ID, "k")
		if !st.RequestExists || st.Status != gift.StatusQueued || st.Series != 1 || st.Attempts != 0 || st.LeaseLeft != 0 {
			t.Fatalf("send state: %+v", st)
		}
		events, _ := s.History(ctx, g.ID)
		last := events[len(events)-1]
		if last.From != gift.StatusFailed || last.To != gift.StatusQueued || last.Actor != gift.ActorOperator ||
			last.ActorName != "alice" || last.Reason != "provider fixed" || last.RequestID != "k" {
			t.Fatalf("retry event: %+v", last)
		}
		if _, err := s.RetryFailed(ctx, g.ID, "bob", "twice"); gift.KindOf(err) != gift.KindConflict {
			t.Fatalf("a second retry while QUEUED: %v", err)
		}
	})
}

// The DLQ reconciler's decision per message, remembered once.
func TestSettleDLQMessage(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	body := func(id uuid.UUID, key string, retry int) string {
		b, _ := queue.Message{GiftID: id, RequestID: key, Retry: retry}.Marshal()
		return string(b)
	}
	queued := newGift(t, s, nil) // all five attempts ran, the last one crashed
	if _, err := send(t, s, queued.ID, "k"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, ok, err := s.BeginAttempt(ctx, current(t, s, queued.ID), uuid.New(), 5, 0); !ok || err != nil {
			t.Fatalf("begin attempt: %v %v", ok, err)
		}
	}
	wentRound := newGift(t, s, nil) // its message's receives ran out after 2 attempts
	if _, err := send(t, s, wentRound.ID, "k"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, ok, err := s.BeginAttempt(ctx, current(t, s, wentRound.ID), uuid.New(), 5, 0); !ok || err != nil {
			t.Fatalf("begin attempt: %v %v", ok, err)
		}
	}
	sent := newGift(t, s, nil)
	if _, err := send(t, s, sent.ID, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkSent(ctx, current(t, s, sent.ID)); err != nil {
		t.Fatal(err)
	}
	retried := newGift(t, s, nil)
	if _, err := send(t, s, retried.ID, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkFailed(ctx, current(t, s, retried.ID), "boom"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RetryFailed(ctx, retried.ID, "alice", "fixed"); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, id, body string
		want           gift.Settlement
	}{
		{"a QUEUED gift whose attempts all ran is failed", "m1", body(queued.ID, "k", 0), gift.SettledFailed},
		{"a QUEUED gift with attempts left is queued again", "m7", body(wentRound.ID, "k", 0), gift.SettledRequeued},
		{"a later series than the gift's is unknown", "m8", body(wentRound.ID, "k", 1), gift.SettledUnknown},
		{"the same message again keeps its first settlement", "m1", body(queued.ID, "k", 0), gift.SettledFailed},
		{"a SENT gift is already final", "m2", body(sent.ID, "k", 0), gift.SettledAlreadyFinal},
		{"an earlier series never fails the retried gift", "m3", body(retried.ID, "k", 0), gift.SettledSuperseded},
		{"another request id is unknown", "m4", body(sent.ID, "other", 0), gift.SettledUnknown},
		{"a missing gift is unknown", "m5", body(uuid.New(), "k", 0), gift.SettledUnknown},
		{"a body that is no send request is invalid", "m6", "hello", gift.SettledInvalid},
	} {
		got, err := s.SettleDLQMessage(ctx, c.id, c.body, 5)
		if err != nil || got != c.want {
			t.Fatalf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	if g, _ := s.GetGift(ctx, retried.ID); g.Status != gift.StatusQueued {
		t.Fatalf("the retried gift became %s", g.Status)
	}
	if got := transitions(t, s, queued.ID); got != "->CREATED api, CREATED->QUEUED api k, QUEUED->FAILED reconciler k" {
		t.Fatalf("history of the reconciled gift: %s", got)
	}
	if g, _ := s.GetGift(ctx, queued.ID); g.LastError == nil || !strings.Contains(*g.LastError, "(5 attempts ran)") {
		t.Fatalf("last_error of the reconciled gift: %v", g.LastError)
	}
	if got := transitions(t, s, wentRound.ID); got != "->CREATED api, CREATED->QUEUED api k, QUEUED->QUEUED reconciler k" {
		t.Fatalf("history of the requeued gift: %s", got)
	}
	// Queued again through the outbox: the API's send left its row there in this test, so no
	// second row is added; once SQS has it, a requeue adds one.
	if bodies := outboxBodies(t, pool, wentRound.ID); len(bodies) != 1 {
		t.Fatalf("outbox of the requeued gift: %v", bodies)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM outbox_messages WHERE gift_id = $1`, wentRound.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SettleDLQMessage(ctx, "m9", body(wentRound.ID, "k", 0), 5); err != nil || got != gift.SettledRequeued {
		t.Fatalf("a second DLQ copy: %q, %v", got, err)
	}
	if bodies := outboxBodies(t, pool, wentRound.ID); len(bodies) != 1 || bodies[0] != body(wentRound.ID, "k", 0) {
		t.Fatalf("outbox of the requeued gift after its row was published: %v", bodies)
	}
	if g, _ := s.GetGift(ctx, wentRound.ID); g.Status != gift.StatusQueued {
		t.Fatalf("the requeued gift became %s", g.Status)
	}
	settled, err := s.DLQSettled(ctx, []string{"m1", "m3", "m6", "never-seen"})
	if err != nil || len(settled) != 3 || settled["m3"] != gift.SettledSuperseded {
		t.Fatalf("settled: %v, %v", settled, err)
	}
	if n, err := s.PruneDLQSettled(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("prune of fresh settlements: %d, %v", n, err)
	}
	if n, err := s.PruneDLQSettled(ctx, 0); err != nil || n != 9 {
		t.Fatalf("prune of everything: %d, %v", n, err)
	}
}

func TestReenqueueAndOverview(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	lost := newGift(t, s, nil)
	if _, err := send(t, s, lost.ID, "k"); err != nil {
		t.Fatal(err)
	}
	waiting := newGift(t, s, nil) // QUEUED with its message still in the outbox
	if _, err := send(t, s, waiting.ID, "w"); err != nil {
		t.Fatal(err)
	}
	newGift(t, s, nil)
	if _, err := pool.Exec(ctx, `DELETE FROM outbox_messages WHERE gift_id = $1`, lost.ID); err != nil {
		t.Fatal(err)
	}
	// Two hours pass (the history is append-only: its trigger is set aside to age it).
	if _, err := pool.Exec(ctx, `
		UPDATE gifts SET updated_at = now() - interval '2 hours' WHERE status = 'QUEUED';
		ALTER TABLE gift_events DISABLE TRIGGER gift_events_append_only;
		UPDATE gift_events SET at = now() - interval '2 hours';
		ALTER TABLE gift_events ENABLE TRIGGER gift_events_append_only`); err != nil {
		t.Fatal(err)
	}

	o, err := s.Overview(ctx, time.Hour)
	if err != nil || o.ByStatus[gift.StatusQueued] != 2 || o.ByStatus[gift.StatusCreated] != 1 || o.Stuck != 2 || o.OldestQueued < 2*time.Hour {
		t.Fatalf("overview: %+v, %v", o, err)
	}
	if o, _ := s.Overview(ctx, 3*time.Hour); o.Stuck != 0 {
		t.Fatalf("stuck beyond 3h: %d", o.Stuck)
	}

	orphans, err := s.QueuedWithoutOutbox(ctx, time.Hour, 100)
	if err != nil || len(orphans) != 1 || orphans[0].GiftID != lost.ID || orphans[0].RequestID != "k" || orphans[0].QueuedFor < 2*time.Hour {
		t.Fatalf("orphans: %+v, %v", orphans, err)
	}
	if orphans, _ := s.QueuedWithoutOutbox(ctx, 3*time.Hour, 100); len(orphans) != 0 {
		t.Fatalf("orphans older than 3h: %+v", orphans)
	}
	if _, err := s.Reenqueue(ctx, lost.ID, "alice", "lost"); err != nil {
		t.Fatal(err)
	}
	if bodies := outboxBodies(t, pool, lost.ID); len(bodies) != 1 || !strings.Contains(bodies[0], `"request_id":"k"`) {
		t.Fatalf("outbox after re-enqueue: %v", bodies)
	}
	if _, err := s.Reenqueue(ctx, lost.ID, "alice", "twice"); !errors.Is(err, gift.ErrNotOrphaned) {
		t.Fatalf("second re-enqueue: %v", err)
	}
	if got := transitions(t, s, lost.ID); got != "->CREATED api, CREATED->QUEUED api k, QUEUED->QUEUED operator k" {
		t.Fatalf("history: %s", got)
	}
}

// current names the attempt series of the gift's latest send request (no request: none), as its
// current queue message carries it.
func current(t *testing.T, s *postgres.Store, id uuid.UUID) gift.Series {
	t.Helper()
	d, err := s.Delivery(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return gift.Series{GiftID: id, RequestID: d.RequestID, Retry: d.Retries}
}

// Attempts are counted where they begin: at most one runs at a time (its lease), no more than the
// configured number per series, and a message of an earlier series neither begins one nor
// finishes the retried gift.
func TestAttemptsAndSeries(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	g := newGift(t, s, nil)
	if _, err := send(t, s, g.ID, "k"); err != nil {
		t.Fatal(err)
	}
	first := current(t, s, g.ID)
	delivery := uuid.New()
	a, ok, err := s.BeginAttempt(ctx, first, delivery, 2, time.Minute)
	if !ok || err != nil || a.Number != 1 {
		t.Fatalf("first attempt: %+v %v %v", a, ok, err)
	}
	// The same delivery beginning again (its answer was lost) gets its attempt back, uncounted.
	if again, ok, err := s.BeginAttempt(ctx, first, delivery, 2, time.Minute); !ok || err != nil || again.Number != 1 {
		t.Fatalf("the same delivery beginning again: %+v %v %v; want attempt 1 again", again, ok, err)
	}
	if _, ok, err := s.BeginAttempt(ctx, first, uuid.New(), 2, time.Minute); ok || err != nil {
		t.Fatalf("a second attempt began while the first one's lease is live: %v %v", ok, err)
	}
	if st, _ := s.SendState(ctx, g.ID, "k"); st.Judge(0, 2) != gift.VerdictRunning || st.Attempts != 1 {
		t.Fatalf("state while the first attempt runs: %+v", st)
	}
	if ok, err := s.RenewAttempt(ctx, a, time.Minute); !ok || err != nil {
		t.Fatalf("renew: %v %v", ok, err)
	}
	if err := s.EndAttempt(ctx, a); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.RenewAttempt(ctx, a, time.Minute); ok {
		t.Fatal("an ended attempt's lease was renewed")
	}
	if a, ok, err := s.BeginAttempt(ctx, first, uuid.New(), 2, 0); !ok || err != nil || a.Number != 2 {
		t.Fatalf("second attempt: %+v %v %v", a, ok, err)
	}
	if _, ok, _ := s.BeginAttempt(ctx, first, uuid.New(), 2, 0); ok {
		t.Fatal("a third attempt began with two allowed")
	}
	if st, _ := s.SendState(ctx, g.ID, "k"); st.Judge(0, 2) != gift.VerdictExhausted {
		t.Fatalf("state after both attempts: %+v", st)
	}
	if ok, err := s.MarkFailed(ctx, first, "both failed"); !ok || err != nil {
		t.Fatalf("MarkFailed: %v %v", ok, err)
	}
	if _, err := s.RetryFailed(ctx, g.ID, "alice", "fixed"); err != nil {
		t.Fatal(err)
	}
	// The earlier series can do nothing to the retried gift.
	if _, ok, _ := s.BeginAttempt(ctx, first, uuid.New(), 2, 0); ok {
		t.Fatal("a message of the earlier series began an attempt")
	}
	if ok, _ := s.MarkFailed(ctx, first, "stale"); ok {
		t.Fatal("a message of the earlier series failed the retried gift")
	}
	if ok, _ := s.MarkSent(ctx, first); ok {
		t.Fatal("a message of the earlier series sent the retried gift")
	}
	retried := current(t, s, g.ID)
	if st, _ := s.SendState(ctx, g.ID, "k"); st.Judge(0, 2) != gift.VerdictSuperseded || st.Judge(1, 2) != gift.VerdictAttempt || st.Judge(2, 2) != gift.VerdictUnknown {
		t.Fatalf("state after the retry: %+v", st)
	}
	if a, ok, err := s.BeginAttempt(ctx, retried, uuid.New(), 2, time.Minute); !ok || err != nil || a.Number != 1 || a.Retry != 1 {
		t.Fatalf("the retried series' first attempt: %+v %v %v", a, ok, err)
	}
	if ok, err := s.MarkSent(ctx, retried); !ok || err != nil {
		t.Fatalf("MarkSent of the retried series: %v %v", ok, err)
	}
	if st, _ := s.SendState(ctx, g.ID, "k"); st.Status != gift.StatusSent || st.LeaseLeft != 0 {
		t.Fatalf("after SENT: %+v", st)
	}
}

// A redrive queues a QUEUED gift again as a new attempt series through the outbox (the old
// series' outbox row gone), recorded in its history; the DLQ copy it came from is then superseded
// for the reconciler. It refuses anything but the gift's current request and series while QUEUED.
func TestRedrive(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	g := newGift(t, s, nil)
	old, _ := queue.Message{GiftID: g.ID, RequestID: "k", ForceFailure: true}.Marshal()
	if _, err := s.Send(ctx, gift.SendRequest{GiftID: g.ID, RequestID: "k", ForceFailure: true}, []byte(`{}`), old, gift.OutboxClaim{Token: uuid.New(), Lease: time.Hour}); err != nil {
		t.Fatal(err)
	}
	msg, _ := queue.Parse(old)
	if _, err := s.Redrive(ctx, queue.Message{GiftID: g.ID, RequestID: "other", Retry: 0}, "alice", "why"); !errors.Is(err, gift.ErrNotRedrivable) {
		t.Fatalf("redrive of another request's message: %v", err)
	}
	r, err := s.Redrive(ctx, msg, "alice <os:alice>", "moved back")
	if err != nil || r.Series != 1 || r.RequestID != "k" {
		t.Fatalf("redrive: %+v, %v", r, err)
	}
	bodies := outboxBodies(t, pool, g.ID)
	m, err := queue.Parse([]byte(bodies[0]))
	if len(bodies) != 1 || err != nil || m.Retry != 1 || !m.ForceFailure || m.RequestID != "k" {
		t.Fatalf("outbox after the redrive: %v (%+v, %v); want only the new series, as the send request says", bodies, m, err)
	}
	events, _ := s.History(ctx, g.ID)
	if last := events[len(events)-1]; last.From != gift.StatusQueued || last.To != gift.StatusQueued || last.Actor != gift.ActorOperator ||
		last.ActorName != "alice <os:alice>" || last.Reason != "moved back" {
		t.Fatalf("redrive event: %+v", last)
	}
	if _, err := s.Redrive(ctx, msg, "alice", "again"); !errors.Is(err, gift.ErrNotRedrivable) {
		t.Fatalf("a second redrive of the same (now earlier-series) message: %v", err)
	}
	if got, err := s.SettleDLQMessage(ctx, "left-over", string(old), 5); err != nil || got != gift.SettledSuperseded {
		t.Fatalf("the reconciler on the DLQ copy: %q, %v", got, err)
	}
	if _, err := s.MarkSent(ctx, current(t, s, g.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Redrive(ctx, m, "alice", "after SENT"); !errors.Is(err, gift.ErrNotRedrivable) {
		t.Fatalf("redrive of a SENT gift: %v", err)
	}
}
