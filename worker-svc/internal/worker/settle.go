package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/work"
)

// ackTimeout bounds each SQS call that settles a message (delete or visibility change). Those calls
// run on a context that shutdown does not cancel: an outcome already stored must reach SQS.
const ackTimeout = 10 * time.Second

// settle tells SQS the outcome o that work decided for m, on a context that shutdown does not
// cancel: Delete deletes m, Retry hides it for o.Delay, Release makes it visible at once.
func (w *Worker) settle(ctx context.Context, log *slog.Logger, m queue.Received, o work.Outcome) {
	ack, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	var err error
	switch o.Action {
	case work.Delete:
		err = w.Queue.Delete(ack, m.ReceiptHandle)
	case work.Retry:
		err = w.Queue.ChangeVisibility(ack, m.ReceiptHandle, o.Delay)
	case work.Release:
		err = w.Queue.ChangeVisibility(ack, m.ReceiptHandle, 0)
	}
	if err != nil {
		log.Warn("could not settle the message with SQS: it comes back after its visibility timeout",
			slog.String(logging.KeyStatus, o.Status), slog.String(logging.KeyErrorCode, CodeQueueUnavailable), logging.Err(err))
	}
}
