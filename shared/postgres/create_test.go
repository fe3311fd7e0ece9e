package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
)

func createOnce(t *testing.T, s *postgres.Store, key string, amount int64) (gift.Gift, gift.CreateOutcome, error) {
	t.Helper()
	n := gift.NewGift{Amount: amount}
	g, err := gift.New(uuid.Nil, n, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fp, err := n.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.CreateGiftOnce(context.Background(), g, gift.CreateKey{Key: key, Fingerprint: fp}, []byte(`{"gift_id":"`+g.ID.String()+`"}`))
	return g, out, err
}

func count(t *testing.T, pool *pgxpool.Pool, query string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateGiftOnce(t *testing.T) {
	pool, s := env.NewStore(t)

	g, first, err := createOnce(t, s, "create-1", 500)
	if err != nil || first.Replayed || first.GiftID != g.ID {
		t.Fatalf("first create: %+v, %v", first, err)
	}
	if _, err := s.GetGift(context.Background(), g.ID); err != nil {
		t.Fatalf("the gift of the first create: %v", err)
	}

	_, again, err := createOnce(t, s, "create-1", 500)
	if err != nil || !again.Replayed || again.GiftID != g.ID || string(again.Response) != string(first.Response) {
		t.Fatalf("same key, same request: %+v, %v; want a replay of %+v", again, err, first)
	}

	if _, _, err := createOnce(t, s, "create-1", 501); !errors.Is(err, gift.ErrIdempotencyKeyReused) {
		t.Fatalf("same key, other request: %v; want ErrIdempotencyKeyReused", err)
	}

	if n := count(t, pool, `SELECT count(*) FROM gifts`); n != 1 {
		t.Fatalf("%d gifts, want 1", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM gift_events WHERE gift_id = $1`, g.ID); n != 1 {
		t.Fatalf("%d history entries, want 1", n)
	}
}

func TestConcurrentCreatesWithOneKeyMakeOneGift(t *testing.T) {
	pool, s := env.NewStore(t)
	const n = 20
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, out, err := createOnce(t, s, "race", 700)
			if err != nil {
				t.Errorf("create: %v", err)
				return
			}
			ids <- out.GiftID.String()
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Fatalf("creates answered with %d gift ids, want 1", len(seen))
	}
	if got := count(t, pool, `SELECT count(*) FROM gifts`); got != 1 {
		t.Fatalf("%d gifts, want 1", got)
	}
}

func TestPruneCreateRequestsDeletesExpiredKeysOnly(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	for _, key := range []string{"old-1", "old-2", "old-3", "fresh", "just-inside"} {
		if _, _, err := createOnce(t, s, key, 500); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE create_requests SET created_at = now() - interval '8 days' WHERE idempotency_key LIKE 'old-%'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE create_requests SET created_at = now() - interval '6 days 23 hours' WHERE idempotency_key = 'just-inside'`); err != nil {
		t.Fatal(err)
	}
	const retention = 7 * 24 * time.Hour

	// Bounded batches: two, then the one left, then nothing.
	for i, want := range []int64{2, 1, 0} {
		got, err := s.PruneCreateRequests(ctx, retention, 2)
		if err != nil || got != want {
			t.Fatalf("batch %d: pruned %d, %v; want %d", i+1, got, err, want)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM create_requests WHERE idempotency_key IN ('fresh', 'just-inside')`); n != 2 {
		t.Fatalf("%d of the keys inside the retention are left, want 2", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM gifts`); n != 5 {
		t.Fatalf("%d gifts, want 5: pruning deletes keys, never gifts", n)
	}

	// An expired key that was pruned is a new request: it makes a new gift.
	g, out, err := createOnce(t, s, "old-1", 500)
	if err != nil || out.Replayed || out.GiftID != g.ID {
		t.Fatalf("create with a pruned key: %+v, %v; want a new gift", out, err)
	}
}
