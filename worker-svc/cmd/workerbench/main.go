// Command workerbench measures how fast the worker drains the send queue, beside how fast the SQS
// emulator alone can receive and delete the same number of messages with the same concurrency, in
// the same run on the same machine. It is a benchmark, not a test: it prints figures.
//
// "Same concurrency" means the worker's access pattern and bound: at most -concurrency messages in
// hand, receives of up to 10 for the free slots, one DeleteMessage per message. The worker does the
// same plus, per message, a state read and the conditional UPDATE in PostgreSQL, which share the
// machine's CPUs with the emulator. The emulator's unbounded ceiling (independent consumers with up
// to 10 messages each in hand) is printed for context.
//
//	go run ./worker-svc/cmd/workerbench [-gifts 2000] [-concurrency 10] [-rounds 5]
//
// It starts its own throwaway PostgreSQL and emulator (devkit/devstack). The worker runs with
// failure rate 0 and no simulated latency, so what is measured is the worker's own overhead: a
// receive per batch, per message a state read, the conditional UPDATE and a delete. Target: the
// worker drains at least 0.7 of the raw rate. The mean latency of each kind of call is printed
// too: with at most -concurrency messages in hand, the rate is set by how long each message holds
// its slot, i.e. by the round trips it makes (raw: one delete; worker: two to PostgreSQL, then the
// delete), so the ratio depends on how fast PostgreSQL answers relative to SQS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/devkit/devstack"
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

func main() {
	gifts := flag.Int("gifts", 2000, "messages (gifts) per measurement")
	concurrency := flag.Int("concurrency", 10, "worker concurrency (WORKER_CONCURRENCY) and raw consumers")
	rounds := flag.Int("rounds", 5, "measurements of each kind, after one warm-up round; the median is reported")
	flag.Parse()
	if err := run(*gifts, *concurrency, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "workerbench:", err)
		os.Exit(1)
	}
}

func run(gifts, concurrency, rounds int) error {
	ctx := context.Background()
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = pg.Stop() }()
	emu, err := devstack.StartSQSEmulator(ctx, 0, nil)
	if err != nil {
		return err
	}
	defer emu.Stop()
	client, err := sqs.NewClient(ctx, sqs.ClientConfig{Region: "ap-northeast-1", Endpoint: emu.Endpoint})
	if err != nil {
		return err
	}
	pool, err := postgres.OpenPool(ctx, postgres.PoolConfig{URL: pg.URL, MaxConns: int32(concurrency) + 4}) //nolint:gosec // small flag value
	if err != nil {
		return err
	}
	defer pool.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := postgres.Migrate(ctx, pool, quiet); err != nil {
		return err
	}
	store := postgres.NewStore(pool, 10*time.Second)

	fmt.Printf("worker drain benchmark: %d messages per measurement, concurrency %d, failure rate 0, no latency; median of %d rounds\n",
		gifts, concurrency, rounds)
	var matched, unbounded, drain []float64
	var rawT, workerT timings
	var dlqURL string // the DLQ of the last queue made
	queue := func(name string) (string, error) {
		urls, err := sqs.EnsureQueues(ctx, client, sqs.QueuePair{Name: name, DLQName: name + "-dlq", MaxReceiveCount: 5})
		dlqURL = urls.DLQURL
		return urls.URL, err
	}
	// Round 0 warms up the emulator (a JIT-compiled Node.js program) and the database; it is not
	// reported.
	for round := range rounds + 1 {
		url, err := queue(fmt.Sprintf("bench-raw-%d", round))
		if err != nil {
			return err
		}
		rt, wt := &timings{}, &timings{}
		if round > 0 {
			rt, wt = &rawT, &workerT
		}
		m, err := rawMatched(ctx, sqs.NewPublisher(client, url), sqs.NewConsumer(client, url), gifts, concurrency, rt)
		if err != nil {
			return err
		}
		if url, err = queue(fmt.Sprintf("bench-unbounded-%d", round)); err != nil {
			return err
		}
		u, err := rawUnbounded(ctx, sqs.NewPublisher(client, url), sqs.NewConsumer(client, url), gifts, concurrency)
		if err != nil {
			return err
		}
		if url, err = queue(fmt.Sprintf("bench-worker-%d", round)); err != nil {
			return err
		}
		d, err := drainRate(ctx, pool, store, sqs.NewPublisher(client, url), sqs.NewConsumer(client, url), sqs.NewPublisher(client, dlqURL),
			gifts, concurrency, quiet, wt)
		if err != nil {
			return err
		}
		if round == 0 {
			continue
		}
		matched, unbounded, drain = append(matched, m), append(unbounded, u), append(drain, d)
		fmt.Printf("  round %d: raw %6.0f msg/s   raw unbounded %6.0f msg/s   worker %6.0f gifts/s   ratio %.2f\n", round, m, u, d, d/m)
	}
	m, u, d := median(matched), median(unbounded), median(drain)
	fmt.Printf("emulator raw receive+delete, same concurrency (<= %d in hand):  %6.0f msg/s\n", concurrency, m)
	fmt.Printf("emulator raw receive+delete, %d unbounded consumers (context):  %6.0f msg/s\n", concurrency, u)
	fmt.Printf("worker drain QUEUED->SENT:                                    %6.0f gifts/s\n", d)
	fmt.Printf("ratio worker/raw (same concurrency):  %.2f   (target >= 0.70)\n", d/m)
	fmt.Printf("ratio worker/raw unbounded:           %.2f\n", d/u)
	fmt.Printf("mean call latency, raw:    receive %.2f ms (%.1f msg each), DeleteMessage %.2f ms\n",
		rawT.receive.mean(), rawT.receive.perCall(), rawT.delete.mean())
	fmt.Printf("mean call latency, worker: receive %.2f ms (%.1f msg each), DeleteMessage %.2f ms, SendState %.2f ms, MarkSent %.2f ms\n",
		workerT.receive.mean(), workerT.receive.perCall(), workerT.delete.mean(), workerT.sendState.mean(), workerT.markSent.mean())
	return nil
}

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
	if _, err := pool.Exec(ctx, `TRUNCATE gifts, send_requests, outbox_messages`); err != nil {
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
