package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/backoff"
)

// Statuses of log lines about messages whose gift status is not the point.
const (
	statusInvalid = "INVALID" // the message is not a send request
	statusUnknown = "UNKNOWN" // the gift or send request does not exist
	statusDone    = "DUPLICATE"
)

// action is what happens to a message once it has been processed.
type action int

const (
	// actDelete: the gift is finished (SENT or FAILED before, or now SENT): remove the message.
	actDelete action = iota + 1
	// actRetry: the attempt failed and attempts remain: visible again after delay.
	actRetry
	// actRelease: visible again at once. On the last attempt or for a message that no retry can
	// help, the next receive moves it to the DLQ; at shutdown another worker takes it.
	actRelease
)

type outcome struct {
	action    action
	delay     time.Duration
	status    string // the status logged with the decision, repeated if settling fails
	duplicate bool   // the gift was already finished (status is then its SENT or FAILED)
}

// handle processes one received message and settles it with SQS. ctx is cancelled only when the
// shutdown budget is spent. Every log line about the message carries its ids (and, once parsed,
// the gift_id and request_id).
func (w *Worker) handle(ctx context.Context, m sqs.Received) {
	start := time.Now()
	// The message's trace continues here (the API request that accepted the send); every line
	// logged about it carries the trace's ids.
	span, ctx := tracing.StartConsume(ctx, m.Trace, m.Queue, start)
	log := logging.Bind(ctx, w.Log).With(slog.String("message_id", m.ID), slog.Int("attempt", m.ReceiveCount), slog.Int("max_attempts", w.cfg.MaxReceiveCount))
	msg, err := queue.Parse([]byte(m.Body))
	if err == nil {
		log = log.With(slog.String(logging.KeyGiftID, msg.GiftID.String()), slog.String(logging.KeyRequestID, msg.RequestID))
	}
	stop := w.heartbeat(m, log)
	var o outcome
	if err != nil {
		// No retry can fix a body: release it so it reaches the DLQ within its remaining receives.
		log.Error("message is not a valid send request: left to reach the DLQ",
			slog.String(logging.KeyStatus, statusInvalid), slog.String(logging.KeyErrorCode, CodeMessageInvalid), logging.Err(err))
		o = outcome{action: actRelease, status: statusInvalid}
	} else {
		o = w.process(ctx, log, msg, m, start)
	}
	stop()
	w.settle(ctx, log, m, o)
	w.observe(span, m, msg, o, start)
	if span != nil {
		span.Finish()
	}
}

// process decides what happens to one parsed message, exactly as requirements 5.1.2 lay it out.
func (w *Worker) process(ctx context.Context, log *slog.Logger, msg queue.Message, m sqs.Received, start time.Time) outcome {
	var st postgres.SendState
	err := w.withDatabase(ctx, func(ctx context.Context) (err error) {
		st, err = w.Store.SendState(ctx, msg.GiftID, msg.RequestID)
		return err
	})
	switch {
	case ctx.Err() != nil:
		return interrupted(log)
	case errors.Is(err, gift.ErrNotFound):
		return unknown(log, "gift not found")
	case err != nil:
		return w.unexpected(log, m, err)
	case !st.RequestExists:
		return unknown(log, fmt.Sprintf("no send request %q for this gift", msg.RequestID))
	case st.Status.Terminal():
		log.Info("duplicate delivery: the gift was already finished, message deleted", slog.String(logging.KeyStatus, string(st.Status)))
		return outcome{action: actDelete, status: string(st.Status), duplicate: true}
	case st.Status != gift.StatusQueued:
		return unknown(log, fmt.Sprintf("gift is %s: no send was accepted for it", st.Status))
	}

	sendErr := w.Sender.Send(ctx, msg)
	if ctx.Err() != nil {
		return interrupted(log)
	}
	if sendErr == nil {
		return w.sent(ctx, log, msg, m, start)
	}
	if m.ReceiveCount < w.cfg.MaxReceiveCount {
		delay := backoff.Delay(m.ReceiveCount, w.cfg.RetryBaseDelay, w.cfg.RetryMaxDelay)
		log.Warn("send attempt failed: SQS delivers it again after the delay",
			slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.String(logging.KeyErrorCode, CodeSendAttemptFailed),
			logging.Err(sendErr), slog.Duration("retry_in", delay))
		return outcome{action: actRetry, delay: delay, status: string(gift.StatusQueued)}
	}
	return w.failed(ctx, log, msg, m, sendErr)
}

// sent stores SENT and deletes the message.
func (w *Worker) sent(ctx context.Context, log *slog.Logger, msg queue.Message, m sqs.Received, start time.Time) outcome {
	if o, stored := w.finish(ctx, log, m, func(ctx context.Context) (bool, error) { return w.Store.MarkSent(ctx, msg.GiftID) }); !stored {
		return o
	}
	log.Info("gift sent", slog.String(logging.KeyStatus, string(gift.StatusSent)), logging.Since("duration_ms", start))
	return outcome{action: actDelete, status: string(gift.StatusSent)}
}

// finish stores a gift's final status with mark (a conditional UPDATE ... WHERE status =
// 'QUEUED'). It reports stored=false, with the outcome to use instead, when the shutdown
// interrupted it (the redelivery repeats the attempt; a pseudo send is harmless to repeat), when
// it failed, or when zero rows changed: another delivery of the same request finished the gift
// first, and the message is simply deleted.
func (w *Worker) finish(ctx context.Context, log *slog.Logger, m sqs.Received, mark func(context.Context) (bool, error)) (o outcome, stored bool) {
	var changed bool
	err := w.withDatabase(ctx, func(ctx context.Context) (err error) {
		changed, err = mark(ctx)
		return err
	})
	switch {
	case ctx.Err() != nil:
		return interrupted(log), false
	case err != nil:
		return w.unexpected(log, m, err), false
	case !changed:
		log.Info("duplicate delivery: another delivery finished the gift first, message deleted", slog.String(logging.KeyStatus, statusDone))
		return outcome{action: actDelete, status: statusDone}, false
	}
	return outcome{}, true
}

// failed handles a failed last attempt (ApproximateReceiveCount has reached maxReceiveCount):
// store FAILED first, then release the message so that its next receive moves it to the DLQ.
func (w *Worker) failed(ctx context.Context, log *slog.Logger, msg queue.Message, m sqs.Received, sendErr error) outcome {
	lastError := fmt.Sprintf("send failed on all %d attempts; last error: %v", m.ReceiveCount, sendErr)
	if o, stored := w.finish(ctx, log, m, func(ctx context.Context) (bool, error) { return w.Store.MarkFailed(ctx, msg.GiftID, lastError) }); !stored {
		return o
	}
	log.Error("last attempt failed: gift FAILED, message left for the DLQ",
		slog.String(logging.KeyStatus, string(gift.StatusFailed)), slog.String(logging.KeyErrorCode, CodeSendFailedFinal), logging.Err(sendErr))
	return outcome{action: actRelease, status: string(gift.StatusFailed)}
}

func unknown(log *slog.Logger, why string) outcome {
	log.Error("unknown gift or send request: left to reach the DLQ",
		slog.String(logging.KeyStatus, statusUnknown), slog.String(logging.KeyErrorCode, CodeGiftUnknown), slog.String(logging.KeyErrorMessage, why))
	return outcome{action: actRelease, status: statusUnknown}
}

// unexpected handles an error that is neither an outage nor a domain answer (a bug, a schema
// problem, a statement that timed out on its own): the attempt counts as failed and SQS delivers the message again after the usual delay.
// On the last attempt the message goes to the DLQ with the gift still QUEUED, and the DLQ
// reconciler marks it FAILED.
func (w *Worker) unexpected(log *slog.Logger, m sqs.Received, err error) outcome {
	delay := backoff.Delay(m.ReceiveCount, w.cfg.RetryBaseDelay, w.cfg.RetryMaxDelay)
	if timedOut(err) {
		log.Warn("a database statement timed out while the database answers: SQS delivers the message again after the delay",
			slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.String(logging.KeyErrorCode, CodeStatementTimeout),
			logging.Err(err), slog.Duration("retry_in", delay))
		return outcome{action: actRetry, delay: delay, status: string(gift.StatusQueued)}
	}
	log.Error("processing failed unexpectedly: SQS delivers it again after the delay",
		slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.String(logging.KeyErrorCode, CodeProcessingFailed),
		logging.Err(err), slog.Duration("retry_in", delay))
	return outcome{action: actRetry, delay: delay, status: string(gift.StatusQueued)}
}

func interrupted(log *slog.Logger) outcome {
	log.Info("shutdown budget spent before the message was finished: released for another worker",
		slog.String(logging.KeyStatus, string(gift.StatusQueued)))
	return outcome{action: actRelease, status: string(gift.StatusQueued)}
}

// settle tells SQS the outcome, on a context that shutdown does not cancel.
func (w *Worker) settle(ctx context.Context, log *slog.Logger, m sqs.Received, o outcome) {
	ack, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	var err error
	switch o.action {
	case actDelete:
		err = w.Queue.Delete(ack, m.ReceiptHandle)
	case actRetry:
		err = w.Queue.ChangeVisibility(ack, m.ReceiptHandle, o.delay)
	case actRelease:
		err = w.Queue.ChangeVisibility(ack, m.ReceiptHandle, 0)
	}
	if err != nil {
		log.Warn("could not settle the message with SQS: it comes back after its visibility timeout",
			slog.String(logging.KeyStatus, o.status), slog.String(logging.KeyErrorCode, CodeQueueUnavailable), logging.Err(err))
	}
}

// heartbeat keeps the message hidden while it is in hand (a slow send, or a wait for the
// database), renewing its visibility every third of the visibility timeout. stop waits for a
// renewal under way to finish, so it cannot land after the outcome is settled.
func (w *Worker) heartbeat(m sqs.Received, log *slog.Logger) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	every := max(w.cfg.Visibility/3, 100*time.Millisecond)
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), every)
			err := w.Queue.ChangeVisibility(ctx, m.ReceiptHandle, w.cfg.Visibility)
			cancel()
			if err != nil {
				log.Warn("heartbeat failed: the message may be delivered again while in hand",
					slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.String(logging.KeyErrorCode, CodeQueueUnavailable), logging.Err(err))
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

func isUnavailable(err error) bool { return errors.Is(err, gift.ErrUnavailable) }

// timedOut reports whether a store call failed because it ran out of time (the store bounds every
// call with DB_QUERY_TIMEOUT), as opposed to a connection that failed outright.
func timedOut(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
