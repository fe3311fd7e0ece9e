package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/backoff"
)

// Statuses of log lines about messages whose gift status is not the point.
const (
	statusInvalid    = "INVALID"    // the message is not a send request
	statusUnknown    = "UNKNOWN"    // the gift or send request does not exist
	statusDone       = "DUPLICATE"  // another delivery finished the gift first
	statusSuperseded = "SUPERSEDED" // the message belongs to an earlier attempt series
)

// Log fields of a message's lines (docs/observability.md).
const (
	keySeries       = "series"        // the message's attempt series ("retry")
	keyAttempt      = "attempt"       // the database's attempt number, once the attempt began
	keyReceiveCount = "receive_count" // SQS's ApproximateReceiveCount
)

// action is what happens to a message once it has been processed.
type action int

const (
	// actDelete: the gift is finished (SENT or FAILED before, now SENT, or now FAILED with the
	// message's copy in the DLQ), or the message is superseded: remove the message.
	actDelete action = iota + 1
	// actRetry: the attempt failed and attempts remain, or another attempt is running: visible
	// again after delay.
	actRetry
	// actRelease: visible again at once. On the last receive or for a message that no retry can
	// help, the next receive moves it to the DLQ; at shutdown another worker takes it.
	actRelease
)

type outcome struct {
	action    action
	delay     time.Duration
	status    string // the status logged with the decision, repeated if settling fails
	duplicate bool   // the gift was already finished (status is then its SENT or FAILED)
	waiting   bool   // another delivery's attempt was running: this one waits for it
}

// delivery is one message in hand: its logger, which gains the attempt number once the attempt
// has begun, and that attempt, whose lease the heartbeat renews while it runs.
type delivery struct {
	m     queue.Received
	msg   queue.Message
	start time.Time
	// token names this delivery when it begins an attempt, so that beginning again after a lost
	// answer returns the same attempt.
	token uuid.UUID

	mu      sync.Mutex
	log     *slog.Logger
	attempt gift.Attempt // Number 0: none began
	running bool         // the attempt's lease is held (it has not ended)
}

func (d *delivery) logger() *slog.Logger {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log
}

// began records the attempt a that this delivery has begun.
func (d *delivery) began(a gift.Attempt) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempt, d.running = a, true
	d.log = d.log.With(slog.Int(keyAttempt, a.Number))
}

// ended records that the attempt's lease is no longer held.
func (d *delivery) ended() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running = false
}

// leased returns the attempt whose lease this delivery holds, if any.
func (d *delivery) leased() (gift.Attempt, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.attempt, d.running
}

func (d *delivery) attemptNumber() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.attempt.Number
}

func (d *delivery) series() gift.Series {
	return gift.Series{GiftID: d.msg.GiftID, RequestID: d.msg.RequestID, Retry: d.msg.Retry}
}

// handle processes one received message and settles it with SQS. ctx is cancelled only when the
// shutdown budget is spent. Every log line about the message carries its ids and receive count
// (and, once parsed, the gift_id, request_id and series; once begun, the attempt).
func (w *Worker) handle(ctx context.Context, m queue.Received) {
	start := time.Now()
	// The message's trace continues here (the API request that accepted the send); every line
	// logged about it carries the trace's ids.
	span, ctx := tracing.StartConsume(ctx, m.Trace, m.Queue, start)
	log := logging.Bind(ctx, w.Log).With(slog.String("message_id", m.ID), slog.Int(keyReceiveCount, m.ReceiveCount),
		slog.Int("max_attempts", w.cfg.MaxAttempts))
	msg, err := queue.Parse([]byte(m.Body))
	if err == nil {
		log = log.With(slog.String(logging.KeyGiftID, msg.GiftID.String()), slog.String(logging.KeyRequestID, msg.RequestID),
			slog.Int(keySeries, msg.Retry))
	}
	d := &delivery{m: m, msg: msg, start: start, log: log, token: uuid.New()}
	stop := w.heartbeat(d)
	var o outcome
	if err != nil {
		// No retry can fix a body: release it so it reaches the DLQ within its remaining receives.
		log.Error("message is not a valid send request: left to reach the DLQ",
			slog.String(logging.KeyStatus, statusInvalid), slog.String(logging.KeyErrorCode, CodeMessageInvalid), logging.Err(err))
		o = outcome{action: actRelease, status: statusInvalid}
	} else {
		o = w.process(ctx, d)
	}
	stop()
	w.settle(ctx, d.logger(), m, o)
	w.observe(span, m, msg, o, d.attemptNumber(), start)
	if span != nil {
		span.Finish()
	}
}

// maxJudgements bounds how often one delivery reads the gift's state: a refused begin (the state
// changed between the read and the statement) is judged again, a few times at most.
const maxJudgements = 3

// process decides what happens to one parsed message (docs/requirements.md §5.1.2 and
// docs/architecture.md, "Decision: the series decides, attempts are counted where they run"): the
// gift's state judged by the shared rule (gift.SendState.Judge), then at most one attempt.
func (w *Worker) process(ctx context.Context, d *delivery) outcome {
	log, msg := d.logger(), d.msg
	for range maxJudgements {
		var st gift.SendState
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
			return w.unexpected(log, d, err)
		}
		switch st.Judge(msg.Retry, w.cfg.MaxAttempts) {
		case gift.VerdictUnknown:
			return unknown(log, unknownWhy(st, msg))
		case gift.VerdictSuperseded:
			log.Info("message of an earlier attempt series (the gift was retried since): deleted without effect",
				slog.String(logging.KeyStatus, statusSuperseded), slog.Int("current_series", st.Series))
			return outcome{action: actDelete, status: statusSuperseded}
		case gift.VerdictFinished:
			log.Info("duplicate delivery: the gift was already finished, message deleted", slog.String(logging.KeyStatus, string(st.Status)))
			return outcome{action: actDelete, status: string(st.Status), duplicate: true}
		case gift.VerdictRunning:
			return waiting(log, st.LeaseLeft)
		case gift.VerdictExhausted:
			return w.exhausted(ctx, log, d, st.Attempts)
		}
		var a gift.Attempt
		var ok bool
		err = w.withDatabase(ctx, func(ctx context.Context) (err error) {
			a, ok, err = w.Store.BeginAttempt(ctx, d.series(), d.token, w.cfg.MaxAttempts, w.cfg.Visibility)
			return err
		})
		switch {
		case ctx.Err() != nil:
			return interrupted(log)
		case err != nil:
			return w.unexpected(log, d, err)
		case ok:
			d.began(a)
			return w.attempt(ctx, d, a)
		}
		// The state changed since it was read (another delivery began or finished, a retry):
		// judge again.
	}
	return waiting(log, w.cfg.Visibility)
}

// unknownWhy says why a message names no send request the worker can act on.
func unknownWhy(st gift.SendState, msg queue.Message) string {
	switch {
	case !st.RequestExists:
		return fmt.Sprintf("no send request %q for this gift", msg.RequestID)
	case msg.Retry > st.Series:
		return fmt.Sprintf("attempt series %d is ahead of the send request's %d: no retry wrote this message", msg.Retry, st.Series)
	}
	return fmt.Sprintf("gift is %s: no send was accepted for it", st.Status)
}

// attempt runs attempt a (begun and counted in the database) and stores its outcome.
func (w *Worker) attempt(ctx context.Context, d *delivery, a gift.Attempt) outcome {
	log := d.logger()
	sendErr := w.Sender.Send(ctx, d.msg)
	if ctx.Err() != nil {
		// The attempt began, so it counts, like one whose worker died; its lease is given up so
		// the next delivery need not wait for it.
		w.endAttempt(ctx, d, a)
		return interrupted(log)
	}
	if sendErr == nil {
		return w.sent(ctx, d)
	}
	if a.Number < w.cfg.MaxAttempts {
		w.endAttempt(ctx, d, a)
		delay := backoff.Delay(a.Number, w.cfg.RetryBaseDelay, w.cfg.RetryMaxDelay)
		log.Warn("send attempt failed: SQS delivers it again after the delay",
			slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.String(logging.KeyErrorCode, CodeSendAttemptFailed),
			logging.Err(sendErr), slog.Duration("retry_in", delay))
		return outcome{action: actRetry, delay: delay, status: string(gift.StatusQueued)}
	}
	return w.failed(ctx, d, sendErr)
}

// endAttempt gives up the lease of attempt a, which ended without a final outcome. Best effort,
// one try: if the database does not answer, the lease runs out by itself (one visibility timeout).
func (w *Worker) endAttempt(ctx context.Context, d *delivery, a gift.Attempt) {
	d.ended()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	if err := w.Store.EndAttempt(ctx, a); err != nil {
		d.logger().Debug("attempt lease not given up: it runs out by itself", slog.String(logging.KeyStatus, string(gift.StatusQueued)), logging.Err(err))
	}
}

// sent stores SENT and deletes the message.
func (w *Worker) sent(ctx context.Context, d *delivery) outcome {
	if o, stored := w.finish(ctx, d, func(ctx context.Context) (bool, error) { return w.Store.MarkSent(ctx, d.series()) }); !stored {
		return o
	}
	d.logger().Info("gift sent", slog.String(logging.KeyStatus, string(gift.StatusSent)), logging.Since("duration_ms", d.start))
	return outcome{action: actDelete, status: string(gift.StatusSent)}
}

// finish stores a gift's final status with mark (conditional on the gift being QUEUED under the
// message's send request and series). It reports stored=false, with the outcome to use instead,
// when the shutdown interrupted it (the redelivery repeats the attempt; a pseudo send is harmless
// to repeat), when it failed, or when zero rows changed: another delivery of the same request
// finished the gift first, or an operator retry started a later series meanwhile, and the message
// is simply deleted.
func (w *Worker) finish(ctx context.Context, d *delivery, mark func(context.Context) (bool, error)) (o outcome, stored bool) {
	log := d.logger()
	var changed bool
	err := w.withDatabase(ctx, func(ctx context.Context) (err error) {
		changed, err = mark(ctx)
		return err
	})
	switch {
	case ctx.Err() != nil:
		return interrupted(log), false
	case err != nil:
		if a, ok := d.leased(); ok {
			w.endAttempt(ctx, d, a)
		}
		return w.unexpected(log, d, err), false
	case !changed:
		d.ended()
		log.Info("duplicate delivery: another delivery finished the gift first, or a retry superseded this message; message deleted",
			slog.String(logging.KeyStatus, statusDone))
		return outcome{action: actDelete, status: statusDone}, false
	}
	d.ended()
	return outcome{}, true
}

// failed handles a failed last attempt (the database's attempt number has reached the configured
// attempts): the message is copied to the DLQ, then FAILED is stored, then the message is deleted.
func (w *Worker) failed(ctx context.Context, d *delivery, sendErr error) outcome {
	lastError := fmt.Sprintf("send failed on all %d attempts; last error: %v", d.attemptNumber(), sendErr)
	if o, stored := w.fail(ctx, d, lastError); !stored {
		return o
	}
	d.logger().Error("last attempt failed: gift FAILED, message moved to the DLQ",
		slog.String(logging.KeyStatus, string(gift.StatusFailed)), slog.String(logging.KeyErrorCode, CodeSendFailedFinal), logging.Err(sendErr))
	return outcome{action: actDelete, status: string(gift.StatusFailed)}
}

// exhausted handles a message of a gift whose attempts have all begun with none running: the last
// one ended without an outcome (its worker died, the shutdown cut it off, or its copy to the DLQ
// failed). No attempt is left, so the gift is FAILED, its message moved to the DLQ first.
func (w *Worker) exhausted(ctx context.Context, log *slog.Logger, d *delivery, attempts int) outcome {
	lastError := gift.ExhaustedReason(attempts, "the last attempt ended without reporting its outcome")
	if o, stored := w.fail(ctx, d, lastError); !stored {
		return o
	}
	log.Error("every attempt has run and none succeeded: gift FAILED, message moved to the DLQ",
		slog.String(logging.KeyStatus, string(gift.StatusFailed)), slog.String(logging.KeyErrorCode, CodeSendFailedFinal),
		slog.String(logging.KeyErrorMessage, lastError), slog.Int(keyAttempt, attempts))
	return outcome{action: actDelete, status: string(gift.StatusFailed)}
}

// fail moves the message to the DLQ (deadLetter) and then stores FAILED with lastError (finish);
// stored=false comes with the outcome to use instead.
func (w *Worker) fail(ctx context.Context, d *delivery, lastError string) (o outcome, stored bool) {
	if o, ok := w.deadLetter(ctx, d); !ok {
		return o, false
	}
	return w.finish(ctx, d, func(ctx context.Context) (bool, error) { return w.Store.MarkFailed(ctx, d.series(), lastError) })
}

// deadLetter copies the message to the DLQ before its gift is stored FAILED, so that a FAILED gift
// always has its message there for operators (giftctl dlq, retry), whatever the message's receive
// count: attempts are counted in the database, and SQS's own redrive (maxReceiveCount receives)
// would miss a message whose receives were fewer than its gift's attempts (duplicate copies share
// the attempts). A crash after the copy and before FAILED is stored leaves the gift QUEUED with
// its attempts spent and its copy in the DLQ: the message's next delivery, or the DLQ reconciler,
// fails it then (a second copy may reach the DLQ; operators' commands handle one gift once). If
// the copy fails, nothing is stored: the attempt's lease is given up and the message comes back
// after the first retry delay, to be failed then (by exhausted).
func (w *Worker) deadLetter(ctx context.Context, d *delivery) (outcome, bool) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	err := w.DeadLetters.PublishTraced(pctx, queue.Outgoing{Body: d.m.Body, Trace: d.m.Trace})
	cancel()
	if err == nil {
		return outcome{}, true
	}
	if a, ok := d.leased(); ok {
		w.endAttempt(ctx, d, a)
	}
	delay := w.cfg.RetryBaseDelay
	d.logger().Warn("message not copied to the DLQ: the gift stays QUEUED with its attempts spent and is failed when the message comes back",
		slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.String(logging.KeyErrorCode, CodeQueueUnavailable),
		logging.Err(err), slog.Duration("retry_in", delay))
	return outcome{action: actRetry, delay: delay, status: string(gift.StatusQueued)}, false
}

// waiting handles a message whose gift has an attempt running under another delivery (a duplicate
// message): it comes back once that attempt's lease has run out, which costs a receive but no
// attempt.
func waiting(log *slog.Logger, leaseLeft time.Duration) outcome {
	delay := max(leaseLeft, time.Second)
	if r := delay % time.Second; r != 0 { // SQS takes whole seconds
		delay += time.Second - r
	}
	log.Info("another delivery's attempt of this gift is running: this copy comes back after it",
		slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.Duration("retry_in", delay))
	return outcome{action: actRetry, delay: delay, status: string(gift.StatusQueued), waiting: true}
}

func unknown(log *slog.Logger, why string) outcome {
	log.Error("unknown gift or send request: left to reach the DLQ",
		slog.String(logging.KeyStatus, statusUnknown), slog.String(logging.KeyErrorCode, CodeGiftUnknown), slog.String(logging.KeyErrorMessage, why))
	return outcome{action: actRelease, status: statusUnknown}
}

// unexpected handles an error that is neither an outage nor a domain answer (a bug, a schema
// problem, a statement that timed out on its own): SQS delivers the message again after the usual
// delay (by the attempt number once an attempt began, else by the receive count). On the last
// receive the message goes to the DLQ with the gift still QUEUED, and the DLQ reconciler fails the
// gift or queues it again, as its attempts say.
func (w *Worker) unexpected(log *slog.Logger, d *delivery, err error) outcome {
	n := d.attemptNumber()
	if n == 0 {
		n = d.m.ReceiveCount
	}
	delay := backoff.Delay(n, w.cfg.RetryBaseDelay, w.cfg.RetryMaxDelay)
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
func (w *Worker) settle(ctx context.Context, log *slog.Logger, m queue.Received, o outcome) {
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
// database), renewing its visibility every third of the visibility timeout, and with it the lease of
// the attempt the delivery is running, so no other delivery begins one meanwhile. stop waits for a
// renewal under way to finish, so it cannot land after the outcome is settled.
func (w *Worker) heartbeat(d *delivery) (stop func()) {
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
			err := w.Queue.ChangeVisibility(ctx, d.m.ReceiptHandle, w.cfg.Visibility)
			if err != nil {
				d.logger().Warn("heartbeat failed: the message may be delivered again while in hand",
					slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.String(logging.KeyErrorCode, CodeQueueUnavailable), logging.Err(err))
			}
			if a, ok := d.leased(); ok {
				// While the database is down this fails; the attempt goes on and its outcome is
				// stored once the database is back (the lease only keeps other deliveries waiting).
				if _, err := w.Store.RenewAttempt(ctx, a, w.cfg.Visibility); err != nil {
					d.logger().Debug("attempt lease not renewed", slog.String(logging.KeyStatus, string(gift.StatusQueued)), logging.Err(err))
				}
			}
			cancel()
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
