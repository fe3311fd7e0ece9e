// Package worker takes send requests off the SQS queue and finishes each gift's lifecycle
// (docs/requirements.md §5.1.2, §6.3): QUEUED -> SENT, or FAILED once the configured attempts (the queue's
// maxReceiveCount) of the gift's current attempt series have run.
//
// Delivery is at least once and in any order, and the process can die at any instant, so every
// decision is safe to repeat: a message acts only for its gift's current series (an earlier one is
// superseded and deleted), attempts are counted in the database when they begin (not by SQS's
// receive count), at most one attempt of a gift runs at a time (a lease), the database changes are
// conditional on status, send request and series, a message is deleted only after its outcome is
// stored, and retries are SQS redeliveries (no retry loop here), spaced by changing the message's
// visibility.
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
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/health"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/send"
)

// Error codes of the worker's log lines (docs/observability.md; the Datadog monitors use them).
const (
	// CodeSendAttemptFailed (WARN): an attempt failed; SQS delivers the message again after a delay.
	CodeSendAttemptFailed = "SEND_ATTEMPT_FAILED"
	// CodeSendFailedFinal (ERROR): the last attempt failed; the gift is FAILED and the message goes
	// to the DLQ.
	CodeSendFailedFinal = "SEND_FAILED_FINAL"
	// CodeMessageInvalid (ERROR): the body is not a send request; the message goes to the DLQ.
	CodeMessageInvalid = "MESSAGE_INVALID"
	// CodeGiftUnknown (ERROR): no such gift or send request; the message goes to the DLQ.
	CodeGiftUnknown = "GIFT_UNKNOWN"
	// CodeProcessingFailed (ERROR): an unexpected error (not an outage); retried like a failed
	// attempt.
	CodeProcessingFailed = "PROCESSING_FAILED"
	// CodeStatementTimeout (WARN): one database statement ran out of time while the database
	// answers (a lock wait, a slow query); retried like a failed attempt while receiving goes on.
	CodeStatementTimeout = "DB_STATEMENT_TIMEOUT"
	// CodeQueueUnavailable (WARN): a call to SQS failed; the message comes back after its visibility
	// timeout, or receiving is retried.
	CodeQueueUnavailable = "QUEUE_UNAVAILABLE"
)

// Queue is the SQS queue the worker consumes (shared/sqs.Consumer).
type Queue interface {
	Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Received, error)
	Delete(ctx context.Context, receiptHandle string) error
	ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error
}

// DeadLetters is the DLQ (shared/sqs.Publisher): the worker puts the message of a gift it fails
// there itself, before it stores FAILED, since its attempts are counted in the database and the
// message's own receives need not have reached maxReceiveCount.
type DeadLetters interface {
	PublishTraced(ctx context.Context, m queue.Outgoing) error
}

// Store is the part of the gift store the worker uses (shared/postgres.Store). Every change is
// conditional on the gift's status and the message's send request and attempt series.
type Store interface {
	SendState(ctx context.Context, giftID uuid.UUID, requestID string) (gift.SendState, error)
	BeginAttempt(ctx context.Context, series gift.Series, by uuid.UUID, maxAttempts int, lease time.Duration) (gift.Attempt, bool, error)
	RenewAttempt(ctx context.Context, a gift.Attempt, lease time.Duration) (bool, error)
	EndAttempt(ctx context.Context, a gift.Attempt) error
	MarkSent(ctx context.Context, series gift.Series) (bool, error)
	MarkFailed(ctx context.Context, series gift.Series, lastError string) (bool, error)
}

// Gate says whether the database can be reached (dbgate.Gate).
type Gate interface {
	// Wait returns nil once the database is reachable, or ctx's error.
	Wait(ctx context.Context) error
	// Close reports that the database could not be reached.
	Close(err error)
	// Check pings the database now (closing the gate if it does not answer) and returns the ping's
	// error.
	Check(ctx context.Context) error
}

// Config tunes the worker.
type Config struct {
	Concurrency     int           // messages processed at once (and the most held at once)
	MaxAttempts     int           // attempts per series before FAILED: the queue's RedrivePolicy maxReceiveCount, read at start-up
	Visibility      time.Duration // asked on receive and renewed by heartbeats while a message is in hand; also an attempt's lease
	Wait            time.Duration // long-poll wait of a receive (queue.MaxWait in production); 0: the queue's own
	RetryBaseDelay  time.Duration // visibility after the first failed attempt, doubled per attempt
	RetryMaxDelay   time.Duration // cap of that delay
	ShutdownTimeout time.Duration // budget for in-flight work after the context ends (SIGTERM)
}

// Deps are the worker's collaborators.
type Deps struct {
	Queue       Queue
	DeadLetters DeadLetters
	Store       Store
	Sender      send.Sender
	Gate        Gate
	Liveness    *health.Liveness
	Log         *slog.Logger
	Metrics     Metrics // nil: none
}

// Worker consumes the send queue.
type Worker struct {
	cfg Config
	Deps
}

// New returns a worker.
func New(cfg Config, deps Deps) *Worker {
	return &Worker{cfg: cfg, Deps: deps}
}

// errShutdownBudget ends in-flight work that the shutdown budget could not wait for.
var errShutdownBudget = errors.New("shutdown budget spent")

// receiveMargin is how long a receive may take beyond its long-poll wait (the request and the
// answer themselves) before it is abandoned as hung.
const receiveMargin = 10 * time.Second

// ackTimeout bounds each SQS call that settles a message (delete or visibility change). Those calls
// run on a context that shutdown does not cancel: an outcome already stored must reach SQS.
const ackTimeout = 10 * time.Second

// Run receives and processes messages until ctx ends, then shuts down gracefully: it stops
// receiving, lets in-flight messages finish within ShutdownTimeout, makes the ones still
// unfinished visible again, and returns nil.
//
// A long poll already under way when ctx ends is not cancelled: SQS (and the emulator) still hands
// messages to an abandoned poll, which would hide them for a whole visibility timeout and spend one
// of their attempts. It is left to return (within Wait), and what it brings is processed like the
// rest of the in-flight work. It is cut off only when the shutdown budget is spent.
func (w *Worker) Run(ctx context.Context) error {
	// In-flight work ends when the shutdown budget is spent, not when ctx ends.
	work, stopWork := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopWork(nil)

	var inflight sync.WaitGroup
	allDone := make(chan struct{})
	budgetDone := make(chan struct{})
	go func() {
		defer close(budgetDone)
		select {
		case <-ctx.Done():
		case <-allDone:
			return
		}
		// Said at once, so whoever stopped the worker knows why it has not exited yet.
		w.Log.Info("stop requested: no new receives; the long poll under way may take up to its wait time to return",
			slog.String(logging.KeyStatus, "STOP_REQUESTED"), slog.Duration("budget", w.cfg.ShutdownTimeout))
		t := time.NewTimer(w.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			stopWork(errShutdownBudget)
		case <-allDone:
		}
	}()

	slots := make(chan struct{}, w.cfg.Concurrency)
	w.receiveLoop(ctx, work, slots, &inflight)

	w.Liveness.Stopping()
	w.Log.Info("shutting down: receiving stopped, finishing the messages in hand",
		slog.String(logging.KeyStatus, "STOPPING"), slog.Int("in_flight", len(slots)),
		slog.Duration("budget", w.cfg.ShutdownTimeout))
	inflight.Wait()
	close(allDone)
	<-budgetDone
	w.Liveness.Ended()
	w.Log.Info("shutdown complete", slog.String(logging.KeyStatus, "STOPPED"))
	return nil
}

// receiveLoop receives as many messages as there are free slots, while the database is reachable,
// and starts one goroutine per message, until ctx ends.
func (w *Worker) receiveLoop(ctx, work context.Context, slots chan struct{}, inflight *sync.WaitGroup) {
	retry := time.Second
	for {
		w.Liveness.Beat()
		if ctx.Err() != nil {
			return
		}
		if !w.takeSlot(ctx, slots) {
			return
		}
		if !w.waitForDatabase(ctx) || ctx.Err() != nil {
			<-slots
			return
		}
		n := 1
		for n < 10 && tryTake(slots) {
			n++
		}
		msgs, err := w.receive(work, n)
		for range n - len(msgs) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil || work.Err() != nil {
				return
			}
			w.Log.Warn("receive failed: trying again", slog.String(logging.KeyStatus, "RUNNING"),
				slog.String(logging.KeyErrorCode, CodeQueueUnavailable), logging.Err(err), slog.Duration("retry_in", retry))
			if !pause(ctx, retry) {
				return
			}
			retry = min(2*retry, 30*time.Second)
			continue
		}
		retry = time.Second
		for _, m := range msgs {
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				defer func() { <-slots }()
				w.handle(work, m)
			}()
		}
	}
}

// receive long-polls for up to n messages. Its context is the in-flight work's (see Run), bounded
// so a hung connection cannot stall the loop.
func (w *Worker) receive(work context.Context, n int) ([]queue.Received, error) {
	ctx, cancel := context.WithTimeout(work, receiveTimeout(w.cfg.Wait))
	defer cancel()
	return w.Queue.Receive(ctx, n, w.cfg.Wait, w.cfg.Visibility)
}

// receiveTimeout bounds a receive whose long-poll wait is wait. A wait of 0 is left out of the
// request, so the queue's own ReceiveMessageWaitTimeSeconds applies, which may be anything up to
// SQS's longest (queue.MaxWait): the bound must cover that, or the poll is abandoned while SQS still
// holds it open, and a message it then hands out stays hidden with an attempt spent.
func receiveTimeout(wait time.Duration) time.Duration {
	if wait <= 0 {
		wait = queue.MaxWait
	}
	return wait + receiveMargin
}

// takeSlot blocks until a processing slot is free (true) or ctx ends (false), beating the liveness
// record meanwhile: waiting for slow messages is not being stuck.
func (w *Worker) takeSlot(ctx context.Context, slots chan struct{}) bool {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case slots <- struct{}{}:
			return true
		case <-ctx.Done():
			return false
		case <-t.C:
			w.Liveness.Beat()
		}
	}
}

func tryTake(slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// waitForDatabase blocks while the database is unreachable (true once it is back, false when ctx
// ends), beating the liveness record: a worker paused for the database is alive.
func (w *Worker) waitForDatabase(ctx context.Context) bool {
	for {
		w.Liveness.Beat()
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		err := w.Gate.Wait(wctx)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
	}
}

func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// withDatabase runs op, and while it fails because the database cannot be reached, reports the
// outage (which pauses receiving), waits for the database and runs op again. It returns op's
// result, or ctx's error at shutdown.
//
// Only a failure to reach the database counts as an outage: a refused, reset or lost connection,
// or a statement that ran out of time (DB_QUERY_TIMEOUT) while the database does not answer a ping
// either. A statement that ran out of time while the ping answers was slow on its own (a lock wait):
// its error is returned and fails this attempt, like any other statement error.
//
// During an outage the messages in hand are held, not released. Every receive increments a
// message's ApproximateReceiveCount, and the receive after the maxReceiveCount-th moves it to the
// DLQ, so:
//   - releasing (visibility 0) spends the receive that brought the message in: it comes back with
//     one attempt fewer after every outage, or every flap of one, and a message on its last attempt
//     goes to the DLQ with its gift still QUEUED because of the outage alone;
//   - holding (the heartbeat keeps renewing its visibility, which is not a receive) spends nothing:
//     when the database answers again the message continues from the step that failed, on the same
//     attempt, at once rather than after a visibility timeout.
//
// Holding costs little: at most Concurrency messages are held, receiving stops so no more are
// taken, and if this worker dies meanwhile SQS redelivers them after one visibility timeout, as for
// any crash. An outage longer than SQS's 12-hour visibility limit makes the heartbeat fail and the
// message is delivered again, one attempt spent. Held messages are released at shutdown (the
// budget ends the wait). This is not a retry of the send: nothing had been decided when op failed.
func (w *Worker) withDatabase(ctx context.Context, op func(context.Context) error) error {
	for {
		if err := w.Gate.Wait(ctx); err != nil {
			return fmt.Errorf("wait for the database: %w", err)
		}
		err := op(ctx)
		if err == nil || ctx.Err() != nil || !isUnavailable(err) {
			return err
		}
		if timedOut(err) {
			if w.Gate.Check(ctx) == nil {
				// The database answers: this one statement was slow (a lock wait, a heavy query),
				// and it fails this message's attempt only instead of pausing the whole worker.
				return err
			}
			if ctx.Err() != nil {
				return err
			}
			continue // the failed ping has closed the gate
		}
		w.Gate.Close(err)
	}
}
