package worker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

func TestFailureRateZeroSendsTheGiftAndDeletesTheMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	s := h.queued(1, 0)[0]

	testenv.Eventually(t, 30*time.Second, "gift SENT and queue empty", func() (bool, string) {
		g, d := h.gift(s.GiftID), h.depth(h.queues.URL)
		return g.Status == gift.StatusSent && d.Total() == 0, fmt.Sprintf("gift %s, queue %+v", g.Status, d)
	})
	if g := h.gift(s.GiftID); g.LastError != nil {
		t.Fatalf("last_error of a sent gift: %q", *g.LastError)
	}
	sent := h.lines(map[string]any{"msg": "gift sent", "gift_id": s.GiftID, "request_id": s.RequestID, "status": "SENT", "attempt": 1})
	if len(sent) != 1 || sent[0]["duration_ms"] == nil || sent[0]["service"] != "worker" {
		t.Fatalf("sent log lines: %v", sent)
	}
	if d := h.depth(h.queues.DLQURL); d.Total() != 0 {
		t.Fatalf("DLQ: %+v", d)
	}
}

func TestForceFailureMakesFiveAttemptsThenFailedAndDLQ(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	s := h.queued(1, 1)[0]

	testenv.Eventually(t, 60*time.Second, "gift FAILED and its message in the DLQ", func() (bool, string) {
		g, main, dlq := h.gift(s.GiftID), h.depth(h.queues.URL), h.depth(h.queues.DLQURL)
		return g.Status == gift.StatusFailed && main.Total() == 0 && dlq.Total() == 1,
			fmt.Sprintf("gift %s, queue %+v, DLQ %+v", g.Status, main, dlq)
	})
	if n := h.sender.count(s.GiftID); n != 5 {
		t.Fatalf("%d send attempts, want exactly 5 (maxReceiveCount)", n)
	}
	g := h.gift(s.GiftID)
	if g.LastError == nil || !strings.Contains(*g.LastError, "5 attempts") || !strings.Contains(*g.LastError, "force_failure") {
		t.Fatalf("last_error = %v", g.LastError)
	}
	if n := len(h.lines(map[string]any{"error_code": "SEND_ATTEMPT_FAILED", "gift_id": s.GiftID, "level": "WARN", "status": "QUEUED"})); n != 4 {
		t.Fatalf("%d SEND_ATTEMPT_FAILED lines, want 4", n)
	}
	final := h.lines(map[string]any{"error_code": "SEND_FAILED_FINAL", "gift_id": s.GiftID, "level": "ERROR", "status": "FAILED", "attempt": 5})
	if len(final) != 1 || !strings.Contains(fmt.Sprint(final[0]["error_message"]), "force_failure") {
		t.Fatalf("SEND_FAILED_FINAL lines: %v", final)
	}
	// The retry delays follow the backoff: 1s, 2s, then the 2s cap.
	var delays []string
	for _, l := range h.lines(map[string]any{"error_code": "SEND_ATTEMPT_FAILED", "gift_id": s.GiftID}) {
		delays = append(delays, fmt.Sprint(l["retry_in"]))
	}
	if got := strings.Join(delays, ","); got != "1s,2s,2s,2s" {
		t.Fatalf("retry delays = %s", got)
	}
}

func TestSameMessageDeliveredTwiceTransitionsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{latency: 100 * time.Millisecond})
	s := h.queued(1, 0)[0]
	h.publish(s.Body) // the same send request, delivered a second time

	testenv.Eventually(t, 30*time.Second, "gift SENT and both messages deleted", func() (bool, string) {
		g, d := h.gift(s.GiftID), h.depth(h.queues.URL)
		return g.Status == gift.StatusSent && d.Total() == 0, fmt.Sprintf("gift %s, queue %+v", g.Status, d)
	})
	// Both deliveries are settled (each logs exactly one final outcome; the copy that arrived while
	// the other's attempt ran also logged that it waits) before the counts are read.
	waiting := map[string]any{"gift_id": s.GiftID, "msg": "another delivery's attempt of this gift is running: this copy comes back after it"}
	testenv.Eventually(t, 20*time.Second, "both deliveries logged an outcome", func() (bool, string) {
		n, w := len(h.lines(map[string]any{"gift_id": s.GiftID})), len(h.lines(waiting))
		return n-w == 2, fmt.Sprintf("%d lines, %d waiting", n, w)
	})
	if n := len(h.lines(map[string]any{"msg": "gift sent", "gift_id": s.GiftID})); n != 1 {
		t.Fatalf("%d transitions to SENT logged, want 1", n)
	}
	if n := len(h.lines(map[string]any{"gift_id": s.GiftID, "level": "INFO"})) - len(h.lines(waiting)); n != 2 {
		t.Fatalf("%d INFO lines for the gift besides waiting, want 2 (sent + duplicate)", n)
	}
	// At most one attempt at a time: the copy that came while the first attempt ran waited for it
	// and then found the gift SENT, so the gift was sent once.
	if n := h.sender.count(s.GiftID); n != 1 {
		t.Fatalf("%d sends for two copies of one message, want 1", n)
	}
	for _, level := range []string{"WARN", "ERROR"} {
		if l := h.lines(map[string]any{"level": level}); len(l) != 0 {
			t.Fatalf("%s lines: %v", level, l)
		}
	}
	if d := h.depth(h.queues.DLQURL); d.Total() != 0 {
		t.Fatalf("DLQ: %+v", d)
	}
}

// Requirements decision 5: failure rate 0.2. Ten of the 200 sends also carry force_failure so the
// FAILED side of the books is never empty (0.2^5: a random send alone almost never fails five
// times in a row).
func TestDefaultFailureRateOver200GiftsEndsSentOrFailed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{failureRate: 0.2, seed: 2026})
	sends := h.queued(200, 10)

	h.settled(90*time.Second, sends)
	testenv.Eventually(t, 30*time.Second, "main queue empty, FAILED count equal to DLQ count", func() (bool, string) {
		s, main, dlq := h.statuses(), h.depth(h.queues.URL), h.depth(h.queues.DLQURL)
		return main.Total() == 0 && dlq.Total() == s[gift.StatusFailed],
			fmt.Sprintf("statuses %v, queue %+v, DLQ %+v", s, main, dlq)
	})
	s := h.statuses()
	if s[gift.StatusQueued] != 0 || s[gift.StatusSent]+s[gift.StatusFailed] != 200 || s[gift.StatusFailed] < 10 {
		t.Fatalf("statuses %v", s)
	}
	retried := len(h.lines(map[string]any{"error_code": "SEND_ATTEMPT_FAILED"}))
	if retried < 40 { // 10 forced sends fail 4 times each before their last attempt
		t.Fatalf("only %d failed attempts logged", retried)
	}
	if n := len(h.lines(map[string]any{"error_code": "SEND_FAILED_FINAL"})); n != s[gift.StatusFailed] {
		t.Fatalf("%d SEND_FAILED_FINAL lines for %d FAILED gifts", n, s[gift.StatusFailed])
	}
}

// A message that cannot be a send request, or names no known send request, is never deleted: it is
// logged with its code and reaches the DLQ. Gifts are left untouched.
func TestInvalidAndUnknownMessagesReachTheDLQ(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{maxReceiveCount: 2})
	s := h.queued(1, 0)[0]
	testenv.Eventually(t, 30*time.Second, "the valid gift SENT", func() (bool, string) {
		g := h.gift(s.GiftID)
		return g.Status == gift.StatusSent, string(g.Status)
	})
	unknownGift := uuid.New()
	bodies := []string{
		`not json`,
		`{"gift_id":"not-a-uuid","request_id":"k"}`,
		`{"request_id":"k"}`,
		fmt.Sprintf(`{"gift_id":%q,"request_id":"k"}`, unknownGift),
		fmt.Sprintf(`{"gift_id":%q,"request_id":"another-key"}`, s.GiftID), // a real gift, not this request
	}
	h.publish(bodies...)

	testenv.Eventually(t, 30*time.Second, "all five messages in the DLQ", func() (bool, string) {
		main, dlq := h.depth(h.queues.URL), h.depth(h.queues.DLQURL)
		return main.Total() == 0 && dlq.Total() == len(bodies), fmt.Sprintf("queue %+v, DLQ %+v", main, dlq)
	})
	// Each was received twice (maxReceiveCount=2) and logged each time.
	if n := len(h.lines(map[string]any{"error_code": "MESSAGE_INVALID", "level": "ERROR", "status": "INVALID"})); n != 3*2 {
		t.Fatalf("%d MESSAGE_INVALID lines, want 6", n)
	}
	unknown := h.lines(map[string]any{"error_code": "GIFT_UNKNOWN", "level": "ERROR", "status": "UNKNOWN"})
	if len(unknown) != 2*2 {
		t.Fatalf("%d GIFT_UNKNOWN lines, want 4", len(unknown))
	}
	for _, l := range unknown {
		if l["gift_id"] == nil || l["request_id"] == nil || l["error_message"] == nil {
			t.Fatalf("GIFT_UNKNOWN line without its fields: %v", l)
		}
	}
	if g := h.gift(s.GiftID); g.Status != gift.StatusSent {
		t.Fatalf("a message with another request id changed the gift to %s", g.Status)
	}
}

// A send slower than the visibility timeout is not delivered to anyone else meanwhile: the
// heartbeat keeps the message hidden, so it is sent once, on its first attempt.
func TestHeartbeatKeepsASlowMessageHidden(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{visibility: 2 * time.Second, latency: 5 * time.Second})
	s := h.queued(1, 0)[0]

	testenv.Eventually(t, 30*time.Second, "gift SENT", func() (bool, string) {
		g := h.gift(s.GiftID)
		return g.Status == gift.StatusSent, string(g.Status)
	})
	if n := h.sender.count(s.GiftID); n != 1 {
		t.Fatalf("%d sends of a message in hand, want 1", n)
	}
	// The "gift sent" line is written just after the commit the poll above saw.
	testenv.Eventually(t, 10*time.Second, `"gift sent" logged`, func() (bool, string) {
		return len(h.lines(map[string]any{"msg": "gift sent", "gift_id": s.GiftID})) > 0, "no line yet"
	})
	if l := h.lines(map[string]any{"msg": "gift sent", "gift_id": s.GiftID, "attempt": 1}); len(l) != 1 {
		t.Fatalf("not sent on its first attempt: %v", h.lines(map[string]any{"gift_id": s.GiftID}))
	}
}

// The worker takes no more messages than it has free slots: with two slots, at most two messages
// are ever in flight, and the rest stay visible for other workers.
func TestReceivesOnlyAsManyMessagesAsFreeSlots(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{concurrency: 2, latency: 300 * time.Millisecond})
	sends := h.queued(8, 0)

	most := 0
	testenv.Eventually(t, 30*time.Second, "every gift SENT", func() (bool, string) {
		d := h.depth(h.queues.URL)
		most = max(most, d.InFlight)
		s := h.statuses()
		return s[gift.StatusSent] == len(sends), fmt.Sprint(s)
	})
	if most > 2 || most == 0 {
		t.Fatalf("up to %d messages in flight with 2 slots", most)
	}
}

// Every delivery of a send's message is logged with the correlation id of the API request that
// accepted it: a redelivery (here each failed attempt's) carries the same body, so the same id.
func TestRedeliveriesKeepTheCorrelationIDOfTheAcceptingRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{maxReceiveCount: 3})
	s := h.create(1, 1)[0] // forced: every attempt fails, each one a redelivery
	msg, err := queue.Parse([]byte(s.Body))
	if err != nil {
		t.Fatal(err)
	}
	msg.CorrelationID = "0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"
	body, err := msg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h.publish(string(body))

	testenv.Eventually(t, 60*time.Second, "gift FAILED after its last attempt", func() (bool, string) {
		g := h.gift(s.GiftID)
		return g.Status == gift.StatusFailed, fmt.Sprintf("gift %s", g.Status)
	})
	lines := h.lines(map[string]any{"gift_id": s.GiftID})
	receives := map[string]bool{}
	for _, l := range lines {
		if l["correlation_id"] != msg.CorrelationID {
			t.Errorf("line without the accepting request's correlation id: %v", l)
		}
		receives[fmt.Sprint(l["receive_count"])] = true
	}
	if len(receives) != 3 {
		t.Errorf("lines of %d deliveries (receive counts %v), want 3", len(receives), receives)
	}
	if final := h.lines(map[string]any{"error_code": "SEND_FAILED_FINAL", "gift_id": s.GiftID, "correlation_id": msg.CorrelationID}); len(final) != 1 {
		t.Errorf("SEND_FAILED_FINAL lines with the correlation id: %v", final)
	}
}
