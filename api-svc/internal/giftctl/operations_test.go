package giftctl_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/giftctl"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

func history(t *testing.T, s *system, id uuid.UUID) []gift.Event {
	t.Helper()
	events, err := s.store.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestRetryRefusesAnythingButFAILED(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	ctx := context.Background()
	queued, _ := s.sendWithMessage(t, false)
	sent, _ := s.sendWithMessage(t, false)
	if _, err := s.store.MarkSent(ctx, s.current(t, sent)); err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]uuid.UUID{"QUEUED": queued, "SENT": sent} {
		before := len(history(t, s, id))
		r := s.run(t, "", "retry", id.String(), "--reason", "why not", "--yes")
		if r.code != 1 || !strings.Contains(r.stderr, "retry refused: gift "+id.String()+" is "+name+"; only a FAILED gift can be retried") {
			t.Fatalf("retry of a %s gift: %+v", name, r)
		}
		if s.status(t, id) != gift.Status(name) || len(history(t, s, id)) != before {
			t.Fatalf("a refused retry changed the %s gift", name)
		}
	}
	if r := s.run(t, "", "retry", uuid.NewString(), "--reason", "x", "--yes"); r.code != 1 || !strings.Contains(r.stderr, "no gift") {
		t.Fatalf("retry of an unknown gift: %+v", r)
	}
	if r := s.run(t, "", "retry", queued.String()); r.code != 2 || !strings.Contains(r.stderr, "--reason is required") {
		t.Fatalf("retry without a reason: %+v", r)
	}
}

// The operator's path end to end: a FAILED gift with its message in the DLQ is retried (after a
// declined confirmation that changes nothing), its DLQ message is removed, the history says who
// and why, the API's relay publishes a message of the new series without force_failure, and the
// worker's finish takes it to SENT.
func TestRetryOfAFailedGiftEndsSent(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	ctx := context.Background()
	id := s.deadLettered(t)
	other := s.deadLettered(t)

	if r := s.run(t, "n\n", "retry", id.String(), "--reason", "provider fixed"); r.code != 1 || !strings.Contains(r.stderr, "cancelled") {
		t.Fatalf("declined retry: %+v", r)
	}
	if s.status(t, id) != gift.StatusFailed || s.depth(t, s.queues.DLQURL).Visible != 2 {
		t.Fatal("a declined retry changed something")
	}

	r := s.run(t, "yes\n", "retry", id.String(), "--reason", "provider fixed", "--actor", "alice")
	if r.code != 0 || !strings.Contains(r.stdout, "FAILED -> QUEUED (retry 1, by alice <os:tester>); 1 DLQ message(s) removed") {
		t.Fatalf("retry: %+v", r)
	}
	g, _ := s.store.GetGift(ctx, id)
	if g.Status != gift.StatusQueued || g.LastError != nil {
		t.Fatalf("after the retry: %s, last_error %v", g.Status, g.LastError)
	}
	if d := s.depth(t, s.queues.DLQURL); d.Visible != 1 || d.InFlight != 0 {
		t.Fatalf("DLQ after the retry: %+v; want only the other gift's message, visible", d)
	}
	events := history(t, s, id)
	last := events[len(events)-1]
	if last.From != gift.StatusFailed || last.To != gift.StatusQueued || last.Actor != gift.ActorOperator || last.ActorName != "alice <os:tester>" || last.Reason != "provider fixed" {
		t.Fatalf("retry event: %+v", last)
	}

	// The worker's part: the relay published the new series; deliver it as the worker would.
	main := sqs.NewConsumer(s.queues.Client, s.queues.URL)
	var got []queue.Received
	testenv.Eventually(t, 20*time.Second, "the retried message on the send queue", func() (bool, string) {
		msgs, err := main.Receive(ctx, 10, time.Second, time.Minute)
		got = append(got, msgs...)
		return len(got) > 0, errString(err)
	})
	m, err := queue.Parse([]byte(got[0].Body))
	if err != nil || m.GiftID != id || m.Retry != 1 || m.ForceFailure || len(got) != 1 {
		t.Fatalf("published: %+v (%v), %d message(s)", m, err, len(got))
	}
	if ok, err := s.store.MarkSent(ctx, s.current(t, id)); !ok || err != nil {
		t.Fatalf("the worker's MarkSent: %v %v", ok, err)
	}
	if w := s.run(t, "", "gift", "wait", id.String(), "--timeout", "10s"); w.code != 0 || !strings.Contains(w.stdout, `"status":"SENT"`) {
		t.Fatalf("gift wait: %+v", w)
	}
	h := s.run(t, "", "gift", "get", id.String(), "--history")
	for _, want := range []string{"FAILED->QUEUED", "operator (alice <os:tester>)", "provider fixed", "QUEUED->SENT", "worker"} {
		if h.code != 0 || !strings.Contains(h.stdout, want) {
			t.Fatalf("gift get --history lacks %q: %+v", want, h)
		}
	}
	if s.status(t, other) != gift.StatusFailed {
		t.Fatal("the other FAILED gift changed")
	}
}

func TestDLQListAndRedrive(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	ctx := context.Background()
	failed := s.deadLettered(t)
	queued, queuedBody := s.sendWithMessage(t, false) // the reconciler has not seen it yet
	s.toDLQ(t, queuedBody)
	sent, sentBody := s.sendWithMessage(t, false)
	if _, err := s.store.MarkSent(ctx, s.current(t, sent)); err != nil {
		t.Fatal(err)
	}
	s.toDLQ(t, sentBody)
	s.toDLQ(t, "not a send request")
	actions := map[string]string{failed.String(): giftctl.ActionRetry, queued.String(): giftctl.ActionRedrive,
		sent.String(): giftctl.ActionDrop, "-": giftctl.ActionInvestigate}

	r := s.run(t, "", "dlq", "list", "--json")
	var entries []giftctl.DLQEntry
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || r.code != 0 || len(entries) != 4 {
		t.Fatalf("dlq list: %+v (%v)", r, err)
	}
	for _, e := range entries {
		key := "-"
		if e.GiftID != nil {
			key = e.GiftID.String()
		}
		if actions[key] != e.Action || e.ReceiveCount < 1 || e.SentAt == nil {
			t.Fatalf("entry %s: %+v, want action %s", key, e, actions[key])
		}
		if key == failed.String() && (e.GiftStatus != "FAILED" || e.GiftLastError == nil) {
			t.Fatalf("FAILED entry: %+v", e)
		}
	}
	if d := s.depth(t, s.queues.DLQURL); d.Visible != 4 || d.InFlight != 0 {
		t.Fatalf("DLQ after listing: %+v; listing must leave every message visible", d)
	}
	if text := s.run(t, "", "dlq", "list"); !strings.Contains(text.stdout, "4 message(s) in the DLQ") || !strings.Contains(text.stdout, failed.String()) {
		t.Fatalf("dlq list: %s", text.stdout)
	}

	if r := s.run(t, "", "dlq", "redrive", "--dry-run"); r.code != 0 || !strings.Contains(r.stdout, "1 would moved back, 1 would dropped") {
		t.Fatalf("dry run: %+v", r)
	}
	if d := s.depth(t, s.queues.DLQURL); d.Visible != 4 || s.depth(t, s.queues.URL).Total() != 0 {
		t.Fatal("a dry run moved something")
	}

	if r := s.run(t, "n\n", "dlq", "redrive"); r.code != 1 || !strings.Contains(r.stderr, "cancelled: nothing changed") {
		t.Fatalf("declined redrive: %+v", r)
	}
	if d := s.depth(t, s.queues.DLQURL); d.Visible != 4 || s.depth(t, s.queues.URL).Total() != 0 || s.status(t, queued) != gift.StatusQueued {
		t.Fatal("a declined redrive moved something")
	}
	r = s.run(t, "", "dlq", "redrive", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "giftctl retry "+failed.String()) {
		t.Fatalf("redrive: %+v", r)
	}
	if d := s.depth(t, s.queues.DLQURL); d.Visible != 2 || d.InFlight != 0 {
		t.Fatalf("DLQ after redrive: %+v; want the FAILED gift's and the invalid message", d)
	}
	// Moved back as a new attempt series, through the outbox (the API's relay publishes it).
	var msgs []queue.Received
	testenv.Eventually(t, 20*time.Second, "the moved message on the send queue", func() (bool, string) {
		got, err := sqs.NewConsumer(s.queues.Client, s.queues.URL).Receive(ctx, 10, time.Second, time.Minute)
		msgs = append(msgs, got...)
		return len(msgs) > 0, errString(err)
	})
	moved, err := queue.Parse([]byte(msgs[0].Body))
	if err != nil || len(msgs) != 1 || moved.GiftID != queued || moved.Retry != 1 || !strings.Contains(queuedBody, moved.RequestID) {
		t.Fatalf("send queue after redrive: %+v (%v), %d message(s)", moved, err, len(msgs))
	}
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	ctx := context.Background()
	lost, _ := s.sendWithMessage(t, false)
	inDLQ, body := s.sendWithMessage(t, false)
	s.toDLQ(t, body)
	recent, _ := s.sendWithMessage(t, false)
	// Two hours pass for two of them (the history is append-only: its trigger is set aside to age it).
	if _, err := s.pool.Exec(ctx, fmt.Sprintf(`
		UPDATE gifts SET updated_at = now() - interval '2 hours' WHERE id IN ('%[1]s', '%[2]s');
		ALTER TABLE gift_events DISABLE TRIGGER gift_events_append_only;
		UPDATE gift_events SET at = now() - interval '2 hours' WHERE gift_id IN ('%[1]s', '%[2]s');
		ALTER TABLE gift_events ENABLE TRIGGER gift_events_append_only`, lost, inDLQ)); err != nil {
		t.Fatal(err)
	}
	outbox := func() int {
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox_messages`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	r := s.run(t, "", "reconcile")
	if r.code != 0 || !strings.Contains(r.stdout, "would re-enqueue "+lost.String()) || strings.Contains(r.stdout, recent.String()) ||
		!strings.Contains(r.stdout, "skip       "+inDLQ.String()) || !strings.Contains(r.stdout, "1 gift(s)") {
		t.Fatalf("dry run: %+v", r)
	}
	if outbox() != 0 || len(history(t, s, lost)) != 2 {
		t.Fatal("a dry run changed something")
	}

	r = s.run(t, "", "reconcile", "--apply")
	if r.code != 0 || !strings.Contains(r.stdout, "1 gift(s) re-enqueued") {
		t.Fatalf("apply: %+v", r)
	}
	events := history(t, s, lost)
	if last := events[len(events)-1]; last.From != gift.StatusQueued || last.To != gift.StatusQueued || last.Actor != gift.ActorOperator || last.ActorName != "os:tester" {
		t.Fatalf("re-enqueue event: %+v", last)
	}
	// The relay publishes it; nothing is left to reconcile.
	testenv.Eventually(t, 20*time.Second, "the re-enqueued message published", func() (bool, string) { return outbox() == 0, "" })
	if s.depth(t, s.queues.URL).Visible != 1 {
		t.Fatal("the re-enqueued message is not on the send queue")
	}
	if r := s.run(t, "", "reconcile"); !strings.Contains(r.stdout, "0 gift(s)") {
		t.Fatalf("after apply: %s", r.stdout)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// The gift commands go through the API like any client: create, send (the key replays), get, and
// the API's refusals come back as exit 1 with its envelope.
func TestGiftCommands(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	r := s.run(t, "", "gift", "create", "--amount", "700", "--message", "hello")
	var created struct {
		GiftID uuid.UUID `json:"gift_id"`
		Status string    `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); r.code != 0 || err != nil || created.Status != "CREATED" {
		t.Fatalf("gift create: %+v (%v)", r, err)
	}
	id := created.GiftID.String()
	if r := s.run(t, "", "gift", "send", id, "--key", "k-1"); r.code != 0 || !strings.Contains(r.stdout, `"status":"QUEUED"`) {
		t.Fatalf("gift send: %+v", r)
	}
	if r := s.run(t, "", "gift", "send", id, "--key", "k-1"); r.code != 0 || !strings.Contains(r.stdout, `"request_id":"k-1"`) {
		t.Fatalf("gift send replay: %+v", r)
	}
	if r := s.run(t, "", "gift", "send", id, "--key", "k-2"); r.code != 1 || !strings.Contains(r.stdout, "CONFLICT") || !strings.Contains(r.stderr, "409") {
		t.Fatalf("gift send with another key: %+v", r)
	}
	if r := s.run(t, "", "gift", "get", id); r.code != 0 || !strings.Contains(r.stdout, `"message":"hello"`) || !strings.Contains(r.stdout, `"status":"QUEUED"`) {
		t.Fatalf("gift get: %+v", r)
	}
	if r := s.run(t, "", "gift", "get", uuid.NewString()); r.code != 1 || !strings.Contains(r.stdout, "NOT_FOUND") {
		t.Fatalf("gift get of an unknown gift: %+v", r)
	}
	if r := s.run(t, "", "gift", "create", "--amount", "0"); r.code != 1 || !strings.Contains(r.stdout, "VALIDATION_ERROR") {
		t.Fatalf("gift create with amount 0: %+v", r)
	}
	if r := s.run(t, "", "gift", "wait", id, "--timeout", "300ms"); r.code != 1 || !strings.Contains(r.stderr, "not SENT or FAILED within") {
		t.Fatalf("gift wait on a gift nobody sends: %+v", r)
	}
	if r := s.run(t, "", "gift", "send", "not-a-uuid"); r.code != 2 {
		t.Fatalf("gift send with a bad id: %+v", r)
	}
}

// A DLQ larger than what one listing takes: the listing says it shows only part, how many it
// saw and that more exist (on stderr with --json, so the JSON stays an array).
func TestDLQListSaysWhenItShowsOnlyPart(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	p := sqs.NewPublisher(s.queues.Client, s.queues.DLQURL)
	bodies := make([]string, queue.MaxBatch)
	for i := range bodies {
		bodies[i] = "not a send request"
	}
	for range 101 { // 1,010 messages
		for _, err := range p.PublishBatch(context.Background(), bodies) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	r := s.run(t, "", "dlq", "list", "--json")
	var entries []giftctl.DLQEntry
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || r.code != 0 || len(entries) != 1000 {
		t.Fatalf("dlq list --json: exit %d, %d entries (%v), stderr %s", r.code, len(entries), err, r.stderr)
	}
	if !strings.Contains(r.stderr, "PARTIAL: showing 1000 of about 1010 DLQ message(s); more exist: 10 beyond the listing limit") {
		t.Fatalf("dlq list --json does not say it shows only part: %q", r.stderr)
	}
	if text := s.run(t, "", "dlq", "list"); !strings.Contains(text.stdout, "PARTIAL: showing 1000 of about 1010") {
		t.Fatalf("dlq list does not say it shows only part: %.300s", text.stdout)
	}
	if d := s.depth(t, s.queues.DLQURL); d.Visible != 1010 {
		t.Fatalf("DLQ after listing: %+v", d)
	}
}
