package drainbench

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
)

var (
	gifts       = flag.Int("gifts", 2000, "messages (gifts) per measurement")
	concurrency = flag.Int("concurrency", 10, "worker concurrency (WORKER_CONCURRENCY) and raw consumers")
)

// BenchmarkDrain reports the worker's drain rate (QUEUED -> SENT) against the emulator's raw
// receive+delete rate at the same concurrency, one round of the three measurements per iteration.
func BenchmarkDrain(b *testing.B) {
	ctx := b.Context()
	pg, err := servers.StartPostgres(ctx, servers.PostgresOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pg.Stop() })
	emu, err := servers.StartSQSEmulator(ctx, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(emu.Stop)
	client, err := sqs.NewClient(ctx, sqs.ClientConfig{Region: "ap-northeast-1", Endpoint: emu.Endpoint})
	if err != nil {
		b.Fatal(err)
	}
	pool, err := postgres.OpenPool(ctx, postgres.PoolConfig{URL: pg.URL, MaxConns: int32(*concurrency) + 4})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := postgres.Migrate(ctx, pool, quiet); err != nil {
		b.Fatal(err)
	}
	store := postgres.NewStore(pool, 10*time.Second)
	b.Logf("worker drain benchmark: %d messages per measurement, concurrency %d, failure rate 0, no latency; median of the rounds",
		*gifts, *concurrency)

	var dlqURL string // the DLQ of the last queue made
	queue := func(name string) (string, error) {
		urls, err := sqs.EnsureQueues(ctx, client, sqs.QueuePair{Name: name, DLQName: name + "-dlq", MaxReceiveCount: 5})
		dlqURL = urls.DLQURL
		return urls.URL, err
	}
	// round measures the three rates once on queues of its own.
	round := func(n int, rt, wt *timings) (m, u, d float64, err error) {
		url, err := queue(fmt.Sprintf("bench-raw-%d", n))
		if err != nil {
			return 0, 0, 0, err
		}
		if m, err = rawMatched(ctx, sqs.NewPublisher(client, url), sqs.NewConsumer(client, url), *gifts, *concurrency, rt); err != nil {
			return 0, 0, 0, err
		}
		if url, err = queue(fmt.Sprintf("bench-unbounded-%d", n)); err != nil {
			return 0, 0, 0, err
		}
		if u, err = rawUnbounded(ctx, sqs.NewPublisher(client, url), sqs.NewConsumer(client, url), *gifts, *concurrency); err != nil {
			return 0, 0, 0, err
		}
		if url, err = queue(fmt.Sprintf("bench-worker-%d", n)); err != nil {
			return 0, 0, 0, err
		}
		d, err = drainRate(ctx, pool, store, sqs.NewPublisher(client, url), sqs.NewConsumer(client, url), sqs.NewPublisher(client, dlqURL),
			*gifts, *concurrency, quiet, wt)
		return m, u, d, err
	}

	// Round 0 warms up the emulator (a JIT-compiled Node.js program) and the database; it is not
	// reported.
	if _, _, _, err := round(0, &timings{}, &timings{}); err != nil {
		b.Fatal(err)
	}
	var matched, unbounded, drain []float64
	var rawT, workerT timings
	for b.Loop() {
		m, u, d, err := round(len(drain)+1, &rawT, &workerT)
		if err != nil {
			b.Fatal(err)
		}
		matched, unbounded, drain = append(matched, m), append(unbounded, u), append(drain, d)
		b.Logf("round %d: raw %6.0f msg/s   raw unbounded %6.0f msg/s   worker %6.0f gifts/s   ratio %.2f", len(drain), m, u, d, d/m)
	}
	m, u, d := median(matched), median(unbounded), median(drain)
	b.ReportMetric(m, "raw-msg/s")
	b.ReportMetric(d, "worker-gifts/s")
	b.ReportMetric(d/m, "worker/raw")
	b.Logf("emulator raw receive+delete, same concurrency (<= %d in hand):  %6.0f msg/s", *concurrency, m)
	b.Logf("emulator raw receive+delete, %d unbounded consumers (context):  %6.0f msg/s", *concurrency, u)
	b.Logf("worker drain QUEUED->SENT:                                    %6.0f gifts/s", d)
	b.Logf("ratio worker/raw (same concurrency):  %.2f   (target >= 0.70)", d/m)
	b.Logf("ratio worker/raw unbounded:           %.2f", d/u)
	b.Logf("mean call latency, raw:    receive %.2f ms (%.1f msg each), DeleteMessage %.2f ms",
		rawT.receive.mean(), rawT.receive.perCall(), rawT.delete.mean())
	b.Logf("mean call latency, worker: receive %.2f ms (%.1f msg each), DeleteMessage %.2f ms, SendState %.2f ms, MarkSent %.2f ms",
		workerT.receive.mean(), workerT.receive.perCall(), workerT.delete.mean(), workerT.sendState.mean(), workerT.markSent.mean())
}
