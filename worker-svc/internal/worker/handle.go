package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/work"
)

// keyReceiveCount is the log field of SQS's ApproximateReceiveCount (docs/observability.md).
const keyReceiveCount = "receive_count"

// handle runs one received message through work.Runner and settles it with SQS. ctx is cancelled
// only when the shutdown budget is spent. Every log line about the message carries its ids and
// receive count (and, once parsed, the gift_id, request_id and series; once begun, the attempt).
func (w *Worker) handle(ctx context.Context, m queue.Received) {
	start := time.Now()
	// The message's trace continues here (the API request that accepted the send); every line
	// logged about it carries the trace's ids.
	span, ctx := tracing.StartConsume(ctx, m.Trace, m.Queue, start)
	log := logging.Bind(ctx, w.Log).With(slog.String("message_id", m.ID), slog.Int(keyReceiveCount, m.ReceiveCount),
		slog.Int("max_attempts", w.cfg.MaxAttempts))
	j := work.NewJob(m, start, log)
	stop := w.heartbeat(j)
	o := w.runner.Work(ctx, j)
	stop()
	w.settle(ctx, j.Logger(), m, o)
	w.observe(span, m, j.Msg, o, j.AttemptNumber(), start)
	if span != nil {
		span.Finish()
	}
}
