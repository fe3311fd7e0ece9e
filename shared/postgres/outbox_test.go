package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// queueGifts accepts n sends whose outbox rows are due at once.
func queueGifts(t *testing.T, s *postgres.Store, n int) {
	t.Helper()
	for range n {
		g := newGift(t, s, nil)
		if _, err := s.Send(context.Background(), gift.SendRequest{GiftID: g.ID, RequestID: "k"}, []byte(`{}`), []byte(`{"m":1}`), gift.OutboxClaim{}); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(msgs []gift.OutboxMessage) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func claim(t *testing.T, s *postgres.Store, limit int, lease time.Duration) (uuid.UUID, []gift.OutboxMessage) {
	t.Helper()
	token, msgs, err := s.ClaimOutbox(context.Background(), limit, lease)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return token, msgs
}

func TestClaimLeasesDueMessagesToOneClaimAtATime(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	queueGifts(t, s, 25)

	b, err := s.OutboxBacklog(ctx)
	if err != nil || b.Pending != 25 || b.OldestAge <= 0 {
		t.Fatalf("backlog before relay: %+v %v", b, err)
	}
	seen := map[int64]bool{}
	var sizes []int
	for range 10 {
		token, msgs := claim(t, s, 10, time.Hour)
		if len(msgs) == 0 {
			if token != uuid.Nil {
				t.Fatalf("an empty claim has token %s", token)
			}
			break
		}
		sizes = append(sizes, len(msgs))
		for i, m := range msgs {
			if seen[m.ID] {
				t.Fatalf("message %d claimed twice while leased", m.ID)
			}
			seen[m.ID] = true
			if m.Body != `{"m":1}` || m.Attempts != 0 || m.CreatedAt.IsZero() || (i > 0 && m.ID < msgs[i-1].ID) {
				t.Fatalf("claimed message %d of %d: %+v", i, len(msgs), m)
			}
		}
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Fatalf("claims of %v messages, want [10 10 5]", sizes)
	}
	// Leased is not deleted: the backlog still counts them until SQS has accepted them.
	if b, _ := s.OutboxBacklog(ctx); b.Pending != 25 {
		t.Fatalf("backlog while leased: %+v", b)
	}
}

// The point of the lease: once ClaimOutbox returns, no transaction and no row lock is left
// behind, so SQS can take as long as it likes without meeting a database deadline.
func TestClaimHoldsNoLockAfterItReturns(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	queueGifts(t, s, 3)
	_, msgs := claim(t, s, 10, time.Hour)
	if len(msgs) != 3 {
		t.Fatalf("claimed %d", len(msgs))
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var n int
	if err := tx.QueryRow(ctx, `
		SELECT count(*) FROM (SELECT id FROM outbox_messages WHERE id = ANY($1) FOR UPDATE NOWAIT) locked`,
		ids(msgs)).Scan(&n); err != nil || n != 3 {
		t.Fatalf("lock the claimed rows from another transaction: %d %v", n, err)
	}
}

func TestDeleteRemovesAcceptedMessages(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	queueGifts(t, s, 4)
	token, msgs := claim(t, s, 10, time.Hour)
	if n, err := s.DeleteOutbox(ctx, token, ids(msgs)[:3]...); err != nil || n != 3 {
		t.Fatalf("deleted %d (%v), want 3", n, err)
	}
	if _, err := s.DeleteOutbox(ctx, token); err != nil {
		t.Fatalf("delete nothing: %v", err)
	}
	if b, _ := s.OutboxBacklog(ctx); b.Pending != 1 {
		t.Fatalf("backlog after deleting 3 of 4: %+v", b)
	}
}

// A message SQS refuses waits its own delay and records the attempt; the others go first.
func TestRetryBacksOffTheFailedMessageOnly(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	queueGifts(t, s, 3)
	token, msgs := claim(t, s, 10, time.Hour)
	poison := msgs[0]
	if err := s.RetryOutbox(ctx, token, []gift.OutboxRetry{{ID: poison.ID, Delay: time.Hour, Err: "InvalidMessageContents"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseOutbox(ctx, token, ids(msgs[1:])); err != nil {
		t.Fatal(err)
	}
	_, again := claim(t, s, 10, time.Hour)
	if len(again) != 2 || again[0].ID == poison.ID || again[1].ID == poison.ID {
		t.Fatalf("claim after one failure: %v, want the two others (not %d)", ids(again), poison.ID)
	}
	if again[0].Attempts != 0 || again[1].Attempts != 0 {
		t.Fatalf("released messages recorded an attempt: %+v", again)
	}
	var attempts int
	var lastErr string
	var waits time.Duration
	if err := pool.QueryRow(ctx, `SELECT attempts, last_error, available_at - now() FROM outbox_messages WHERE id = $1`, poison.ID).
		Scan(&attempts, &lastErr, &waits); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 || lastErr != "InvalidMessageContents" || waits < 59*time.Minute {
		t.Fatalf("failed message: attempts=%d last_error=%q due in %s", attempts, lastErr, waits)
	}
}

// A relay that stops (crash, hang) holds its messages only until its lease ends; its late
// updates then touch nothing another relay has claimed since.
func TestAnExpiredLeaseHandsTheMessagesToTheNextClaim(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	queueGifts(t, s, 2)
	first, msgs := claim(t, s, 10, 200*time.Millisecond)
	var second uuid.UUID
	var again []gift.OutboxMessage
	testenv.Eventually(t, 10*time.Second, "the messages to be claimable after the lease", func() (bool, string) {
		second, again = claim(t, s, 10, time.Hour)
		return len(again) == 2, fmt.Sprintf("claimed %d", len(again))
	})
	if second == first {
		t.Fatal("the second claim reused the first token")
	}
	// The first relay wakes up late: its retry and release must not undo the second claim.
	if err := s.RetryOutbox(ctx, first, []gift.OutboxRetry{{ID: msgs[0].ID, Delay: 0, Err: "late"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseOutbox(ctx, first, ids(msgs)); err != nil {
		t.Fatal(err)
	}
	assertHeldBy(t, pool, second, 2)
	if _, more := claim(t, s, 10, time.Hour); len(more) != 0 {
		t.Fatalf("messages of a live claim were claimed again: %v", ids(more))
	}
}

func assertHeldBy(t *testing.T, pool *pgxpool.Pool, token uuid.UUID, want int) {
	t.Helper()
	var n, attempts int
	if err := pool.QueryRow(context.Background(), `
		SELECT count(*), coalesce(sum(attempts), 0) FROM outbox_messages WHERE claim_token = $1 AND available_at > now()`,
		token).Scan(&n, &attempts); err != nil {
		t.Fatal(err)
	}
	if n != want || attempts != 0 {
		t.Fatalf("%d messages held by the live claim with %d attempts, want %d with 0", n, attempts, want)
	}
}

func TestClaimLeavesMessagesAloneUntilAvailable(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	g := newGift(t, s, nil)
	if _, err := s.Send(ctx, gift.SendRequest{GiftID: g.ID, RequestID: "k"}, []byte(`{}`), []byte(`{}`), gift.OutboxClaim{Token: uuid.New(), Lease: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, msgs := claim(t, s, 10, time.Hour); len(msgs) != 0 {
		t.Fatalf("claimed %d messages still reserved for the fast path", len(msgs))
	}
}

func TestConcurrentClaimsNeverTakeTheSameMessage(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	queueGifts(t, s, 40)

	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 { // 8 claims of 5 empty the outbox; more means messages came back
				_, msgs, err := s.ClaimOutbox(ctx, 5, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if len(msgs) == 0 {
					return
				}
				mu.Lock()
				for _, m := range msgs {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 40 {
		t.Fatalf("claimed %d distinct messages, want 40", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("message %d claimed %d times", id, n)
		}
	}
}

// The dispatcher's claim, written with the row by Send, is the relay's lease under one rule: no
// relay claims the row while it lasts, then the next claim takes it, and from then on the
// dispatcher's late delete removes nothing (only the current holder's does).
func TestTheDispatchersClaimIsALeaseLikeTheRelays(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	g := newGift(t, s, nil)
	dispatcher := gift.OutboxClaim{Token: uuid.New(), Lease: 300 * time.Millisecond}
	out, err := s.Send(ctx, gift.SendRequest{GiftID: g.ID, RequestID: "k"}, []byte(`{}`), []byte(`{}`), dispatcher)
	if err != nil {
		t.Fatal(err)
	}
	if _, msgs := claim(t, s, 10, time.Hour); len(msgs) != 0 {
		t.Fatalf("the relay claimed %d messages the dispatcher holds", len(msgs))
	}
	if n, err := s.DeleteOutbox(ctx, uuid.New(), out.OutboxID); err != nil || n != 0 {
		t.Fatalf("a delete by a stranger's token removed %d (%v)", n, err)
	}
	var relay uuid.UUID
	testenv.Eventually(t, 10*time.Second, "the relay to claim the row after the dispatcher's lease", func() (bool, string) {
		var msgs []gift.OutboxMessage
		relay, msgs = claim(t, s, 10, time.Hour)
		return len(msgs) == 1 && msgs[0].ID == out.OutboxID, fmt.Sprintf("claimed %v", ids(msgs))
	})
	if n, err := s.DeleteOutbox(ctx, dispatcher.Token, out.OutboxID); err != nil || n != 0 {
		t.Fatalf("the dispatcher's late delete removed %d (%v) from under the relay", n, err)
	}
	if n, err := s.DeleteOutbox(ctx, relay, out.OutboxID); err != nil || n != 1 {
		t.Fatalf("the holder's delete removed %d (%v), want 1", n, err)
	}
}
