package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
)

func newGift(t *testing.T, s *postgres.Store, msg *string) gift.Gift {
	t.Helper()
	g, err := gift.New(uuid.Nil, gift.NewGift{Amount: 1000, Message: msg}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGift(context.Background(), g); err != nil {
		t.Fatalf("create gift: %v", err)
	}
	return g
}

func send(t *testing.T, s *postgres.Store, id uuid.UUID, key string) (gift.SendOutcome, error) {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"gift_id":%q,"request_id":%q,"status":"QUEUED"}`, id, key))
	msg := []byte(fmt.Sprintf(`{"gift_id":%q,"request_id":%q}`, id, key))
	return s.Send(context.Background(), gift.SendRequest{GiftID: id, RequestID: key}, body, msg, gift.OutboxClaim{Token: uuid.New(), Lease: time.Minute})
}

func TestGiftRoundTrip(t *testing.T) {
	_, s := env.NewStore(t)
	msg := "お誕生日おめでとう 🎉"
	g := newGift(t, s, &msg)

	got, err := s.GetGift(context.Background(), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != g.ID || got.Code != g.Code || got.Amount != 1000 || *got.Message != msg ||
		got.Status != gift.StatusCreated || got.LastError != nil || !got.CreatedAt.Equal(g.CreatedAt) {
		t.Fatalf("read back %+v, want %+v", got, g)
	}

	if _, err := s.GetGift(context.Background(), uuid.New()); !errors.Is(err, gift.ErrNotFound) {
		t.Fatalf("unknown gift: got %v, want ErrNotFound", err)
	}
}

func TestMessageOf500CharactersFitsTheColumn(t *testing.T) {
	_, s := env.NewStore(t)
	msg := ""
	for range gift.MaxMessageChars {
		msg += "贈"
	}
	newGift(t, s, &msg) // 1500 bytes, 500 characters: VARCHAR(500) counts characters
}

func TestSend(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	g := newGift(t, s, nil)

	first, err := send(t, s, g.ID, "key-1")
	if err != nil {
		t.Fatalf("first send: %v", err)
	}
	if first.Replayed || first.OutboxID == 0 {
		t.Fatalf("first send: %+v", first)
	}
	got, _ := s.GetGift(ctx, g.ID)
	if got.Status != gift.StatusQueued {
		t.Fatalf("status after send = %s", got.Status)
	}

	t.Run("same key replays the stored body", func(t *testing.T) {
		again, err := send(t, s, g.ID, "key-1")
		if err != nil || !again.Replayed || string(again.Response) != string(first.Response) {
			t.Fatalf("replay: %+v, %v", again, err)
		}
	})
	t.Run("another key while queued conflicts", func(t *testing.T) {
		if _, err := send(t, s, g.ID, "key-2"); !errors.Is(err, gift.ErrQueuedByOtherKey) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unknown gift is not found", func(t *testing.T) {
		if _, err := send(t, s, uuid.New(), "key-1"); !errors.Is(err, gift.ErrNotFound) {
			t.Fatalf("got %v", err)
		}
	})

	var outbox int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox_messages WHERE gift_id = $1`, g.ID).Scan(&outbox); err != nil || outbox != 1 {
		t.Fatalf("outbox rows = %d (%v), want 1", outbox, err)
	}

	if ok, err := s.MarkSent(ctx, current(t, s, g.ID)); !ok || err != nil {
		t.Fatalf("mark sent: %v %v", ok, err)
	}
	t.Run("terminal gift conflicts for a new key", func(t *testing.T) {
		if _, err := send(t, s, g.ID, "key-3"); !errors.Is(err, gift.ErrAlreadyTerminal) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("terminal gift still replays the first key", func(t *testing.T) {
		again, err := send(t, s, g.ID, "key-1")
		if err != nil || !again.Replayed || string(again.Response) != string(first.Response) {
			t.Fatalf("replay after SENT: %+v, %v", again, err)
		}
	})
}

func TestConcurrentSendsWithDifferentKeysQueueOnce(t *testing.T) {
	pool, s := env.NewStore(t)
	g := newGift(t, s, nil)

	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = send(t, s, g.ID, fmt.Sprintf("key-%d", i)) })
	}
	wg.Wait()
	accepted, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, gift.ErrQueuedByOtherKey):
			conflicts++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	var requests, outbox int
	_ = pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM send_requests), (SELECT count(*) FROM outbox_messages)`).Scan(&requests, &outbox)
	if accepted != 1 || conflicts != n-1 || requests != 1 || outbox != 1 {
		t.Fatalf("accepted=%d conflicts=%d send_requests=%d outbox=%d; want 1, %d, 1, 1", accepted, conflicts, requests, outbox, n-1)
	}
}

func TestFinishIsConditionalOnQueued(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	g := newGift(t, s, nil)

	if ok, err := s.MarkSent(ctx, current(t, s, g.ID)); ok || err != nil {
		t.Fatalf("MarkSent on a CREATED gift changed it: %v %v", ok, err)
	}
	if _, err := send(t, s, g.ID, "k"); err != nil {
		t.Fatal(err)
	}
	st, err := s.SendState(ctx, g.ID, "k")
	if err != nil || !st.RequestExists || st.Status != gift.StatusQueued {
		t.Fatalf("send state: %+v %v", st, err)
	}
	if st, _ := s.SendState(ctx, g.ID, "other"); st.RequestExists {
		t.Fatal("unknown request id reported as existing")
	}
	if ok, err := s.MarkFailed(ctx, current(t, s, g.ID), "boom"); !ok || err != nil {
		t.Fatalf("MarkFailed: %v %v", ok, err)
	}
	if ok, _ := s.MarkSent(ctx, current(t, s, g.ID)); ok {
		t.Fatal("MarkSent changed a FAILED gift")
	}
	if ok, _ := s.MarkFailed(ctx, current(t, s, g.ID), "again"); ok {
		t.Fatal("MarkFailed ran twice")
	}
	got, _ := s.GetGift(ctx, g.ID)
	if got.Status != gift.StatusFailed || got.LastError == nil || *got.LastError != "boom" || !got.UpdatedAt.After(got.CreatedAt) {
		t.Fatalf("after MarkFailed: %+v", got)
	}
	if _, err := s.SendState(ctx, uuid.New(), "k"); !errors.Is(err, gift.ErrNotFound) {
		t.Fatalf("SendState of unknown gift: %v", err)
	}
}
