package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/worker"
)

// PostgreSQL stopped for longer than five visibility timeouts with messages in hand, then
// restarted: the worker stops receiving, holds what it has (no attempt spent), and when the
// database is back every gift is sent on its first delivery. Nothing goes to the DLQ.
func TestDatabaseOutageSendsNothingToTheDLQ(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Durable: the outage is a crash (immediate shutdown); without synchronous commits the last
	// transactions before it could be lost, which is not what this test is about.
	pg, err := servers.StartPostgres(ctx, servers.PostgresOptions{Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	migrate(t, pg.URL)

	const visibility = 2 * time.Second
	h := newHarness(t, options{databaseURL: pg.URL, concurrency: 10, visibility: visibility, latency: 1500 * time.Millisecond})
	all := h.queued(5, 0)
	testenv.Eventually(t, 10*time.Second, "five messages in hand", func() (bool, string) {
		d := h.depth(h.queues.URL)
		return d.InFlight == 5, fmt.Sprintf("%+v", d)
	})

	pg.Kill()
	down := time.Now()
	var receives int
	testenv.Eventually(t, 10*time.Second, "receiving paused, no receive under way", func() (bool, string) {
		st := h.gate.State()
		calls, underWay := h.queue.receives()
		receives = calls
		return !st.Open && underWay == 0, fmt.Sprintf("gate %+v, %d receives under way", st, underWay)
	})

	// The outage lasts six visibility timeouts. All along the worker is alive with five free slots
	// but makes no receive, and the five messages it holds stay hidden (heartbeats). The probe
	// receive also makes the emulator expire visibility timeouts, which it does only on activity.
	probe := sqs.NewConsumer(h.queues.Client, h.queues.URL)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Since(down) < 6*visibility {
		if err := h.live.Check(); err != nil {
			t.Fatalf("worker not alive during the outage: %v", err)
		}
		if calls, _ := h.queue.receives(); calls != receives {
			t.Fatalf("%d receives during the outage", calls-receives)
		}
		if got, err := probe.Receive(ctx, 10, 0, time.Second); err != nil || len(got) != 0 {
			t.Fatalf("a held message became visible during the outage: %d messages, %v", len(got), err)
		}
		if d := h.depth(h.queues.URL); d.InFlight != 5 {
			t.Fatalf("queue during the outage: %+v; want the 5 held messages in flight", d)
		}
		if d := h.depth(h.queues.DLQURL); d.Total() != 0 {
			t.Fatalf("DLQ during the outage: %+v", d)
		}
		<-tick.C
	}

	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	h.settled(60*time.Second, all)
	testenv.Eventually(t, 30*time.Second, "queue drained", func() (bool, string) {
		d := h.depth(h.queues.URL)
		return d.Total() == 0, fmt.Sprintf("%+v", d)
	})
	if s := h.statuses(); s[gift.StatusSent] != len(all) {
		t.Fatalf("statuses after the outage: %v", s)
	}
	if d := h.depth(h.queues.DLQURL); d.Total() != 0 {
		t.Fatalf("DLQ after the outage: %+v", d)
	}
	sent := h.lines(map[string]any{"msg": "gift sent"})
	if len(sent) != len(all) {
		t.Fatalf("%d gifts logged as sent, want %d", len(sent), len(all))
	}
	for _, l := range sent {
		if fmt.Sprint(l["attempt"]) != "1" {
			t.Fatalf("gift %v sent on attempt %v: the outage spent a delivery attempt", l["gift_id"], l["attempt"])
		}
	}
	if n := len(h.lines(map[string]any{"error_code": "DB_UNAVAILABLE", "level": "WARN", "status": "PAUSED"})); n != 1 {
		t.Fatalf("%d DB_UNAVAILABLE lines for one outage", n)
	}
	if n := len(h.lines(map[string]any{"msg": "database reachable again: receiving resumed"})); n != 1 {
		t.Fatalf("%d resume lines for one outage", n)
	}
}

func migrate(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
}

// flakyStore fails MarkSent as an unreachable database would, while down is set.
type flakyStore struct {
	*postgres.Store
	down  *atomic.Bool
	calls *atomic.Int64
}

func (s flakyStore) MarkSent(ctx context.Context, series gift.Series) (bool, error) {
	s.calls.Add(1)
	if s.down.Load() {
		return false, fmt.Errorf("mark gift %s SENT: %w", series.GiftID, gift.Unavailable(errors.New("connection reset by peer")))
	}
	return s.Store.MarkSent(ctx, series)
}

// The other way an outage is found: a store call fails (before any ping notices). The message is
// held on the same attempt, the call is repeated once the database answers, and no attempt is
// spent. (The ping is kept healthy here so only the failing call can report the outage.)
func TestAStoreCallThatFindsTheDatabaseDownHoldsTheMessage(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	var calls atomic.Int64
	down.Store(true)
	h := newHarness(t, options{
		visibility: 2 * time.Second,
		wrapStore:  func(s *postgres.Store) worker.Store { return flakyStore{Store: s, down: &down, calls: &calls} },
	})
	s := h.queued(1, 0)[0]
	testenv.Eventually(t, 10*time.Second, "MarkSent failing repeatedly", func() (bool, string) {
		return calls.Load() >= 3, fmt.Sprintf("%d calls", calls.Load())
	})
	// Held: hidden past several visibility timeouts, still in flight, not sent again.
	if d := h.depth(h.queues.URL); d.InFlight != 1 {
		t.Fatalf("queue while held: %+v", d)
	}
	probe := sqs.NewConsumer(h.queues.Client, h.queues.URL)
	deadline := time.Now().Add(5 * time.Second) // past two visibility timeouts
	for time.Now().Before(deadline) {
		if got, err := probe.Receive(context.Background(), 10, time.Second, time.Second); err != nil || len(got) != 0 {
			t.Fatalf("the held message became visible: %d messages, %v", len(got), err)
		}
	}
	down.Store(false)

	testenv.Eventually(t, 10*time.Second, "gift SENT and queue empty", func() (bool, string) {
		g, d := h.gift(s.GiftID), h.depth(h.queues.URL)
		return g.Status == gift.StatusSent && d.Total() == 0, fmt.Sprintf("gift %s, queue %+v", g.Status, d)
	})
	if n := h.sender.count(s.GiftID); n != 1 {
		t.Fatalf("%d sends: the outage made the worker send again", n)
	}
	if l := h.lines(map[string]any{"msg": "gift sent", "gift_id": s.GiftID, "attempt": 1}); len(l) != 1 {
		t.Fatalf("not sent on its first attempt: %v", h.lines(map[string]any{"gift_id": s.GiftID}))
	}
	if l := h.lines(map[string]any{"error_code": "DB_UNAVAILABLE"}); len(l) == 0 {
		t.Fatal("the outage found by a store call was not logged")
	}
}
