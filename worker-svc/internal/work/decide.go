package work

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/backoff"
)

// ownTimeout bounds a call made on a context that shutdown does not cancel (giving up a lease,
// the copy to the DLQ): once begun, it must not be cut off halfway by the shutdown budget.
const ownTimeout = 10 * time.Second

// Work decides what happens to job's message and returns the decision; the caller tells SQS. ctx
// ends only when the shutdown budget is spent: the message is then released (interrupted).
//
// The decision table (docs/requirements.md §5.1.2 and docs/architecture.md, "Decision: the series
// decides, attempts are counted where they run"):
//   - not a send request: released, to reach the DLQ (INVALID);
//   - no such gift or send request: released, to reach the DLQ (UNKNOWN);
//   - a message of an earlier series: deleted without effect (SUPERSEDED);
//   - the gift already finished: deleted (its SENT or FAILED, a duplicate);
//   - another delivery's attempt running: hidden until its lease runs out (waiting);
//   - every attempt begun, none running: copied to the DLQ, FAILED stored, deleted;
//   - else one attempt begins: SENT stored and deleted; or, failed, hidden for the backoff delay,
//     or, on the last attempt, copied to the DLQ, FAILED stored, deleted.
func (r *Runner) Work(ctx context.Context, j *Job) Outcome {
	if j.parseErr != nil {
		// No retry can fix a body: release it so it reaches the DLQ within its remaining receives.
		j.Logger().Error("message is not a valid send request: left to reach the DLQ",
			slog.String(logging.KeyStatus, StatusInvalid), slog.String(logging.KeyErrorCode, CodeMessageInvalid), logging.Err(j.parseErr))
		return Outcome{Action: Release, Status: StatusInvalid}
	}
	return r.decide(ctx, j)
}

// maxJudgements bounds how often one delivery reads the gift's state: a refused begin (the state
// changed between the read and the statement) is judged again, a few times at most.
const maxJudgements = 3

// decide decides what happens to one parsed message (docs/requirements.md §5.1.2 and
// docs/architecture.md, "Decision: the series decides, attempts are counted where they run"): the
// gift's state judged by the shared rule (gift.SendState.Judge), then at most one attempt.
func (r *Runner) decide(ctx context.Context, j *Job) Outcome {
	log, msg := j.Logger(), j.Msg
	for range maxJudgements {
		var st gift.SendState
		err := r.Database.Do(ctx, func(ctx context.Context) (err error) {
			st, err = r.Store.SendState(ctx, msg.GiftID, msg.RequestID)
			return err
		})
		switch {
		case ctx.Err() != nil:
			return interrupted(log)
		case errors.Is(err, gift.ErrNotFound):
			return unknown(log, "gift not found")
		case err != nil:
			return r.unexpected(log, j, err)
		}
		switch st.Judge(msg.Retry, r.MaxAttempts) {
		case gift.VerdictUnknown:
			return unknown(log, unknownWhy(st, msg))
		case gift.VerdictSuperseded:
			log.Info("message of an earlier attempt series (the gift was retried since): deleted without effect",
				slog.String(logging.KeyStatus, StatusSuperseded), slog.Int("current_series", st.Series))
			return Outcome{Action: Delete, Status: StatusSuperseded}
		case gift.VerdictFinished:
			log.Info("duplicate delivery: the gift was already finished, message deleted", slog.String(logging.KeyStatus, string(st.Status)))
			return Outcome{Action: Delete, Status: string(st.Status), Duplicate: true}
		case gift.VerdictRunning:
			return waiting(log, st.LeaseLeft)
		case gift.VerdictExhausted:
			return r.exhausted(ctx, log, j, st.Attempts)
		}
		var a gift.Attempt
		var ok bool
		err = r.Database.Do(ctx, func(ctx context.Context) (err error) {
			a, ok, err = r.Store.BeginAttempt(ctx, j.series(), j.token, r.MaxAttempts, r.Lease)
			return err
		})
		switch {
		case ctx.Err() != nil:
			return interrupted(log)
		case err != nil:
			return r.unexpected(log, j, err)
		case ok:
			j.began(a)
			return r.attempt(ctx, j, a)
		}
		// The state changed since it was read (another delivery began or finished, a retry):
		// judge again.
	}
	return waiting(log, r.Lease)
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
func (r *Runner) attempt(ctx context.Context, j *Job, a gift.Attempt) Outcome {
	log := j.Logger()
	sendErr := r.Sender.Send(ctx, j.Msg)
	if ctx.Err() != nil {
		// The attempt began, so it counts, like one whose worker died; its lease is given up so
		// the next delivery need not wait for it.
		r.endAttempt(ctx, j, a)
		return interrupted(log)
	}
	if sendErr == nil {
		return r.sent(ctx, j)
	}
	if a.Number < r.MaxAttempts {
		r.endAttempt(ctx, j, a)
		delay := backoff.Delay(a.Number, r.RetryBaseDelay, r.RetryMaxDelay)
		log.Warn("send attempt failed: SQS delivers it again after the delay",
			slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.String(logging.KeyErrorCode, CodeSendAttemptFailed),
			logging.Err(sendErr), slog.Duration("retry_in", delay))
		return Outcome{Action: Retry, Delay: delay, Status: string(gift.StatusQueued)}
	}
	return r.failed(ctx, j, sendErr)
}

// endAttempt gives up the lease of attempt a, which ended without a final outcome. Best effort,
// one try: if the database does not answer, the lease runs out by itself (one visibility timeout).
func (r *Runner) endAttempt(ctx context.Context, j *Job, a gift.Attempt) {
	j.ended()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ownTimeout)
	defer cancel()
	if err := r.Store.EndAttempt(ctx, a); err != nil {
		j.Logger().Debug("attempt lease not given up: it runs out by itself", slog.String(logging.KeyStatus, string(gift.StatusQueued)), logging.Err(err))
	}
}

// sent stores SENT and deletes the message.
func (r *Runner) sent(ctx context.Context, j *Job) Outcome {
	if o, stored := r.finish(ctx, j, func(ctx context.Context) (bool, error) { return r.Store.MarkSent(ctx, j.series()) }); !stored {
		return o
	}
	j.Logger().Info("gift sent", slog.String(logging.KeyStatus, string(gift.StatusSent)), logging.Since("duration_ms", j.Start))
	return Outcome{Action: Delete, Status: string(gift.StatusSent)}
}

// finish stores a gift's final status with mark (conditional on the gift being QUEUED under the
// message's send request and series). It reports stored=false, with the Outcome to use instead,
// when the shutdown interrupted it (the redelivery repeats the attempt; a pseudo send is harmless
// to repeat), when it failed, or when zero rows changed: another delivery of the same request
// finished the gift first, or an operator retry started a later series meanwhile, and the message
// is simply deleted.
func (r *Runner) finish(ctx context.Context, j *Job, mark func(context.Context) (bool, error)) (o Outcome, stored bool) {
	log := j.Logger()
	var changed bool
	err := r.Database.Do(ctx, func(ctx context.Context) (err error) {
		changed, err = mark(ctx)
		return err
	})
	switch {
	case ctx.Err() != nil:
		return interrupted(log), false
	case err != nil:
		if a, ok := j.Leased(); ok {
			r.endAttempt(ctx, j, a)
		}
		return r.unexpected(log, j, err), false
	case !changed:
		j.ended()
		log.Info("duplicate delivery: another delivery finished the gift first, or a retry superseded this message; message deleted",
			slog.String(logging.KeyStatus, StatusNotStored))
		return Outcome{Action: Delete, Status: StatusNotStored}, false
	}
	j.ended()
	return Outcome{}, true
}

// failed handles a failed last attempt (the database's attempt number has reached the configured
// attempts): the message is copied to the DLQ, then FAILED is stored, then the message is deleted.
func (r *Runner) failed(ctx context.Context, j *Job, sendErr error) Outcome {
	lastError := fmt.Sprintf("send failed on all %d attempts; last error: %v", j.AttemptNumber(), sendErr)
	if o, stored := r.fail(ctx, j, lastError); !stored {
		return o
	}
	j.Logger().Error("last attempt failed: gift FAILED, message moved to the DLQ",
		slog.String(logging.KeyStatus, string(gift.StatusFailed)), slog.String(logging.KeyErrorCode, CodeSendFailedFinal), logging.Err(sendErr))
	return Outcome{Action: Delete, Status: string(gift.StatusFailed)}
}

// exhausted handles a message of a gift whose attempts have all begun with none running: the last
// one ended without an outcome (its worker died, the shutdown cut it off, or its copy to the DLQ
// failed). No attempt is left, so the gift is FAILED, its message moved to the DLQ first.
func (r *Runner) exhausted(ctx context.Context, log *slog.Logger, j *Job, attempts int) Outcome {
	lastError := gift.ExhaustedReason(attempts, "the last attempt ended without reporting its Outcome")
	if o, stored := r.fail(ctx, j, lastError); !stored {
		return o
	}
	log.Error("every attempt has run and none succeeded: gift FAILED, message moved to the DLQ",
		slog.String(logging.KeyStatus, string(gift.StatusFailed)), slog.String(logging.KeyErrorCode, CodeSendFailedFinal),
		slog.String(logging.KeyErrorMessage, lastError), slog.Int(KeyAttempt, attempts))
	return Outcome{Action: Delete, Status: string(gift.StatusFailed)}
}

// fail moves the message to the DLQ (deadLetter) and then stores FAILED with lastError (finish);
// stored=false comes with the Outcome to use instead.
func (r *Runner) fail(ctx context.Context, j *Job, lastError string) (o Outcome, stored bool) {
	if o, ok := r.deadLetter(ctx, j); !ok {
		return o, false
	}
	return r.finish(ctx, j, func(ctx context.Context) (bool, error) { return r.Store.MarkFailed(ctx, j.series(), lastError) })
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
func (r *Runner) deadLetter(ctx context.Context, j *Job) (Outcome, bool) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ownTimeout)
	err := r.DeadLetters.PublishTraced(pctx, queue.Outgoing{Body: j.Received.Body, Trace: j.Received.Trace})
	cancel()
	if err == nil {
		return Outcome{}, true
	}
	if a, ok := j.Leased(); ok {
		r.endAttempt(ctx, j, a)
	}
	delay := r.RetryBaseDelay
	j.Logger().Warn("message not copied to the DLQ: the gift stays QUEUED with its attempts spent and is failed when the message comes back",
		slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.String(logging.KeyErrorCode, CodeQueueUnavailable),
		logging.Err(err), slog.Duration("retry_in", delay))
	return Outcome{Action: Retry, Delay: delay, Status: string(gift.StatusQueued)}, false
}

// waiting handles a message whose gift has an attempt running under another delivery (a duplicate
// message): it comes back once that attempt's lease has run out, which costs a receive but no
// attempt.
func waiting(log *slog.Logger, leaseLeft time.Duration) Outcome {
	delay := max(leaseLeft, time.Second)
	if r := delay % time.Second; r != 0 { // SQS takes whole seconds
		delay += time.Second - r
	}
	log.Info("another delivery's attempt of this gift is running: this copy comes back after it",
		slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.Duration("retry_in", delay))
	return Outcome{Action: Retry, Delay: delay, Status: string(gift.StatusQueued), Waiting: true}
}

func unknown(log *slog.Logger, why string) Outcome {
	log.Error("unknown gift or send request: left to reach the DLQ",
		slog.String(logging.KeyStatus, StatusUnknown), slog.String(logging.KeyErrorCode, CodeGiftUnknown), slog.String(logging.KeyErrorMessage, why))
	return Outcome{Action: Release, Status: StatusUnknown}
}

// unexpected handles an error that is neither an outage nor a domain answer (a bug, a schema
// problem, a statement that timed out on its own): SQS delivers the message again after the usual
// delay (by the attempt number once an attempt began, else by the receive count). On the last
// receive the message goes to the DLQ with the gift still QUEUED, and the DLQ reconciler fails the
// gift or queues it again, as its attempts say.
func (r *Runner) unexpected(log *slog.Logger, j *Job, err error) Outcome {
	n := j.AttemptNumber()
	if n == 0 {
		n = j.Received.ReceiveCount
	}
	delay := backoff.Delay(n, r.RetryBaseDelay, r.RetryMaxDelay)
	if timedOut(err) {
		log.Warn("a database statement timed out while the database answers: SQS delivers the message again after the delay",
			slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.String(logging.KeyErrorCode, CodeStatementTimeout),
			logging.Err(err), slog.Duration("retry_in", delay))
		return Outcome{Action: Retry, Delay: delay, Status: string(gift.StatusQueued)}
	}
	log.Error("processing failed unexpectedly: SQS delivers it again after the delay",
		slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.String(logging.KeyErrorCode, CodeProcessingFailed),
		logging.Err(err), slog.Duration("retry_in", delay))
	return Outcome{Action: Retry, Delay: delay, Status: string(gift.StatusQueued)}
}

func interrupted(log *slog.Logger) Outcome {
	log.Info("shutdown budget spent before the message was finished: released for another worker",
		slog.String(logging.KeyStatus, string(gift.StatusQueued)))
	return Outcome{Action: Release, Status: string(gift.StatusQueued)}
}

// timedOut reports whether a store call failed because it ran out of time (the store bounds every
// call with DB_QUERY_TIMEOUT), as opposed to a connection that failed outright.
func timedOut(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
