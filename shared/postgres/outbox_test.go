package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
)

// queueGifts accepts n sends whose outbox rows are due at once.
func queueGifts(t *testing.T, s *postgres.Store, n int) {
	t.Helper()
	for range n {
		g := newGift(t, s, nil)
		if _, err := s.Send(context.Background(), gift.SendRequest{GiftID: g.ID, RequestID: "k"}, []byte(`{}`), []byte(`{"m":1}`), 0); err != nil {
			t.Fatal(err)
		}
	}
}

func publishAll(_ context.Context, msgs []postgres.OutboxMessage) postgres.PublishResult {
	var r postgres.PublishResult
	for _, m := range msgs {
		r.Published = append(r.Published, m.ID)
	}
	return r
}

func TestRelayPublishesAndDeletes(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	queueGifts(t, s, 25)

	b, err := s.OutboxBacklog(ctx)
	if err != nil || b.Pending != 25 || b.OldestAge <= 0 {
		t.Fatalf("backlog before relay: %+v %v", b, err)
	}
	claimed, published, err := s.RelayOutbox(ctx, 10, publishAll)
	if err != nil || claimed != 10 || published != 10 {
		t.Fatalf("relay: claimed=%d published=%d err=%v", claimed, published, err)
	}
	for {
		c, _, err := s.RelayOutbox(ctx, 10, publishAll)
		if err != nil {
			t.Fatal(err)
		}
		if c == 0 {
			break
		}
	}
	if b, _ := s.OutboxBacklog(ctx); b.Pending != 0 || b.OldestAge != 0 {
		t.Fatalf("backlog after relay: %+v", b)
	}
}

func TestRelayRecordsFailuresAndKeepsTheMessage(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	queueGifts(t, s, 3)
	failAll := func(_ context.Context, msgs []postgres.OutboxMessage) postgres.PublishResult {
		r := postgres.PublishResult{Failed: map[int64]error{}}
		for _, m := range msgs {
			r.Failed[m.ID] = errors.New("sqs unreachable")
		}
		return r
	}
	if c, p, err := s.RelayOutbox(ctx, 10, failAll); err != nil || c != 3 || p != 0 {
		t.Fatalf("relay: %d %d %v", c, p, err)
	}
	var attempts int
	var lastErr string
	if err := pool.QueryRow(ctx, `SELECT min(attempts), min(last_error) FROM outbox_messages`).Scan(&attempts, &lastErr); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 || lastErr != "sqs unreachable" {
		t.Fatalf("attempts=%d last_error=%q", attempts, lastErr)
	}
	if b, _ := s.OutboxBacklog(ctx); b.Pending != 3 {
		t.Fatalf("failed messages left the outbox: %+v", b)
	}
}

func TestRelayLeavesMessagesAloneUntilAvailable(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	g := newGift(t, s, nil)
	if _, err := s.Send(ctx, gift.SendRequest{GiftID: g.ID, RequestID: "k"}, []byte(`{}`), []byte(`{}`), time.Hour); err != nil {
		t.Fatal(err)
	}
	if c, _, err := s.RelayOutbox(ctx, 10, publishAll); err != nil || c != 0 {
		t.Fatalf("relay claimed %d messages still reserved for the fast path (err %v)", c, err)
	}
}

func TestConcurrentRelaysNeverClaimTheSameMessage(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	queueGifts(t, s, 40)

	var mu sync.Mutex
	seen := map[int64]int{}
	record := func(ctx context.Context, msgs []postgres.OutboxMessage) postgres.PublishResult {
		mu.Lock()
		for _, m := range msgs {
			seen[m.ID]++
		}
		mu.Unlock()
		return publishAll(ctx, msgs)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				c, _, err := s.RelayOutbox(ctx, 5, record)
				if err != nil {
					t.Error(err)
					return
				}
				if c == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != 40 {
		t.Fatalf("published %d distinct messages, want 40", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("message %d published %d times", id, n)
		}
	}
}
