package drainbench

// The three measurements of a round: the emulator alone under the worker's access pattern, the
// emulator's unbounded ceiling, and the worker draining real gifts; and the call timings beside
// them.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/dbgate"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/health"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/seed"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/send"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/worker"
)

// publishRaw puts n throwaway messages on the queue of p.
func publishRaw(ctx context.Context, p *sqs.Publisher, n int) error {
	sends := make([]seed.Send, n)
	for i := range sends {
		sends[i].Body = fmt.Sprintf(`{"n":%d}`, i)
	}
	return seed.Publish(ctx, p, sends...)
}

// counter counts deleted messages and remembers when the last one went.
type counter struct {
	n        int64
	start    time.Time
	done     atomic.Int64
	finished atomic.Int64
}

func (c *counter) add() {
	if c.done.Add(1) == c.n {
		c.finished.Store(int64(time.Since(c.start)))
	}
}

func (c *counter) rate() float64 { return float64(c.n) / time.Duration(c.finished.Load()).Seconds() }

// rawMatched is the emulator alone under the worker's own access pattern and concurrency: at most
// concurrency messages in hand, one receive at a time asking for as many messages as there are
// free slots (up to 10), one DeleteMessage per message as soon as it is in hand. No database, no
// send: this is the ceiling the worker is measured against.
func rawMatched(ctx context.Context, p *sqs.Publisher, consumer *sqs.Consumer, n, concurrency int, t *timings) (float64, error) {
	c := timedQueue{Consumer: consumer, t: t}
	if err := publishRaw(ctx, p, n); err != nil {
		return 0, err
	}
	cnt := &counter{n: int64(n), start: time.Now()}
	slots := make(chan struct{}, concurrency)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for cnt.done.Load() < int64(n) {
		slots <- struct{}{}
		free := 1
		for free < 10 && len(slots) < concurrency {
			slots <- struct{}{}
			free++
		}
		msgs, err := c.Receive(ctx, free, time.Second, 30*time.Second)
		if err != nil {
			return 0, err
		}
		for range free - len(msgs) {
			<-slots
		}
		for _, m := range msgs {
			wg.Go(func() {
				defer func() { <-slots }()
				if err := c.Delete(ctx, m.ReceiptHandle); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				cnt.add()
			})
		}
		select {
		case err := <-errs:
			return 0, err
		default:
		}
		if len(msgs) == 0 && cnt.done.Load() < int64(n) && len(slots) == 0 {
			return 0, errors.New("the queue ran dry before every message was deleted")
		}
	}
	wg.Wait()
	return cnt.rate(), nil
}

// rawUnbounded is the emulator's own ceiling, for context: concurrency independent consumers, each
// receiving up to 10 messages and deleting them one by one (up to 10 times concurrency in hand).
func rawUnbounded(ctx context.Context, p *sqs.Publisher, c *sqs.Consumer, n, concurrency int) (float64, error) {
	if err := publishRaw(ctx, p, n); err != nil {
		return 0, err
	}
	cnt := &counter{n: int64(n), start: time.Now()}
	errs := make([]error, concurrency)
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Go(func() {
			for cnt.done.Load() < int64(n) {
				msgs, err := c.Receive(ctx, 10, time.Second, 30*time.Second)
				if err != nil {
					errs[i] = err
					return
				}
				for _, m := range msgs {
					if err := c.Delete(ctx, m.ReceiptHandle); err != nil {
						errs[i] = err
						return
					}
					cnt.add()
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return cnt.rate(), nil
}

// drainRate queues n gifts and times the worker from its start until all of them are SENT.
func drainRate(ctx context.Context, pool *pgxpool.Pool, store *postgres.Store, p *sqs.Publisher, c *sqs.Consumer, dlq *sqs.Publisher, n, concurrency int, log *slog.Logger, t *timings) (float64, error) {
	// gift_events refuses TRUNCATE even to its owner (shared/postgres/roles/grants.sql); the
	// benchmark's database is thrown away, so its superuser turns the triggers off for this one
	// transaction (session_replication_role = replica fires no ordinary trigger).
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `TRUNCATE gifts, send_requests, outbox_messages, gift_events, dlq_settled, create_requests`)
		return err
	}); err != nil {
		return 0, fmt.Errorf("empty the database: %w", err)
	}
	sends, err := queueGifts(ctx, store, n)
	if err != nil {
		return 0, err
	}
	if err := seed.Publish(ctx, p, sends...); err != nil {
		return 0, err
	}

	counted := &countingStore{Store: store, t: t}
	runCtx, stop := context.WithCancel(ctx)
	gate := dbgate.New(store.Ping, time.Second, log)
	go gate.Run(runCtx)
	if err := gate.Wait(ctx); err != nil {
		stop()
		return 0, err
	}
	w := worker.New(worker.Config{
		Concurrency: concurrency, MaxAttempts: 5, Visibility: 30 * time.Second, Wait: time.Second,
		RetryBaseDelay: time.Second, RetryMaxDelay: time.Second, ShutdownTimeout: 10 * time.Second,
	}, worker.Deps{Queue: timedQueue{Consumer: c, t: t}, DeadLetters: dlq, Store: counted, Sender: send.NewPseudo(0, 0, nil), Gate: gate,
		Liveness: health.NewLiveness(time.Minute, nil), Log: log})
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- w.Run(runCtx) }()

	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var elapsed time.Duration
	for {
		<-tick.C
		if counted.sent.Load() == int64(n) {
			elapsed = time.Since(start)
			break
		}
		if time.Since(start) > 10*time.Minute {
			stop()
			return 0, errors.New("the worker did not drain the queue within 10 minutes")
		}
	}
	stop()
	if err := <-done; err != nil {
		return 0, err
	}
	var sent int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM gifts WHERE status = $1`, gift.StatusSent).Scan(&sent); err != nil {
		return 0, err
	}
	if sent != n {
		return 0, fmt.Errorf("%d of %d gifts SENT after the drain", sent, n)
	}
	return float64(n) / elapsed.Seconds(), nil
}

// countingStore counts the gifts moved to SENT, so the drain is timed without polling the
// database (which would compete with the worker for it), and times the worker's store calls.
type countingStore struct {
	*postgres.Store
	sent atomic.Int64
	t    *timings
}

func (s *countingStore) SendState(ctx context.Context, id uuid.UUID, requestID string) (gift.SendState, error) {
	start := time.Now()
	st, err := s.Store.SendState(ctx, id, requestID)
	s.t.sendState.add(start, 1)
	return st, err
}

func (s *countingStore) MarkSent(ctx context.Context, series gift.Series) (bool, error) {
	start := time.Now()
	changed, err := s.Store.MarkSent(ctx, series)
	s.t.markSent.add(start, 1)
	if changed {
		s.sent.Add(1)
	}
	return changed, err
}

// queueGifts creates n QUEUED gifts with their send requests, a few at a time.
func queueGifts(ctx context.Context, store *postgres.Store, n int) ([]seed.Send, error) {
	sends := make([]seed.Send, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				sends[i], errs[i] = seed.Queued(ctx, store, false)
			}
		})
	}
	wg.Wait()
	return sends, errors.Join(errs...)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// calls accumulates the count and total duration of one kind of call.
type calls struct {
	n, ns, items atomic.Int64
}

func (c *calls) add(start time.Time, items int) {
	c.n.Add(1)
	c.ns.Add(int64(time.Since(start)))
	c.items.Add(int64(items))
}

// mean is the average duration of a call in milliseconds.
func (c *calls) mean() float64 {
	if c.n.Load() == 0 {
		return 0
	}
	return float64(c.ns.Load()) / float64(c.n.Load()) / 1e6
}

// perCall is the average number of items (messages) per call.
func (c *calls) perCall() float64 {
	if c.n.Load() == 0 {
		return 0
	}
	return float64(c.items.Load()) / float64(c.n.Load())
}

// timings are the calls one measurement made.
type timings struct {
	receive, delete, sendState, markSent calls
}

// timedQueue times the receives and deletes of a consumer.
type timedQueue struct {
	*sqs.Consumer
	t *timings
}

func (q timedQueue) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Received, error) {
	start := time.Now()
	msgs, err := q.Consumer.Receive(ctx, max, wait, visibility)
	q.t.receive.add(start, len(msgs))
	return msgs, err
}

func (q timedQueue) Delete(ctx context.Context, receiptHandle string) error {
	start := time.Now()
	err := q.Consumer.Delete(ctx, receiptHandle)
	q.t.delete.add(start, 1)
	return err
}
