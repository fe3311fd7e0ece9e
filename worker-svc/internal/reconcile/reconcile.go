// Package reconcile closes the one gap the retry policy leaves open: a message that reaches the
// DLQ while its gift is still QUEUED. The worker stores FAILED before it lets the last attempt's
// message go to the DLQ, but a worker killed during that attempt (SIGKILL, OOM, a lost task) never
// gets to, and the gift would stay QUEUED forever. The reconciler reads the DLQ periodically and
// marks such gifts FAILED, so every gift ends SENT or FAILED.
//
// It never deletes a DLQ message: operators redrive or purge the DLQ per the runbook. A message it
// has looked at is hidden for Hide so the next sweeps do not read it again and again; a redrive
// started meanwhile moves it only once it is visible again. The worker's task role therefore needs
// sqs:ReceiveMessage, sqs:ChangeMessageVisibility and sqs:GetQueueAttributes on the DLQ.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
)

// CodeSendFailedFinal is the worker's code for a gift that ended FAILED; the reconciler uses it too
// (with reconciled=true), since this is the same final failure, found late.
const CodeSendFailedFinal = "SEND_FAILED_FINAL"

// CodeSweepFailed (WARN): a sweep stopped early (database or SQS unreachable); the next one retries.
const CodeSweepFailed = "DLQ_SWEEP_FAILED"

// LastError is stored on the gifts the reconciler fails.
const LastError = "delivery attempts exhausted: the message reached the dead-letter queue while the gift was still QUEUED"

// maxBatchesPerSweep bounds one sweep (10 messages per batch) so a huge DLQ is worked through over
// several sweeps instead of one endless one.
const maxBatchesPerSweep = 100

// Queue is the DLQ (shared/sqs.Consumer).
type Queue interface {
	Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]sqs.Received, error)
	ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error
}

// Store is the part of the gift store the reconciler uses (shared/postgres.Store).
type Store interface {
	SendState(ctx context.Context, giftID uuid.UUID, requestID string) (postgres.SendState, error)
	MarkFailed(ctx context.Context, giftID uuid.UUID, lastError string) (bool, error)
}

// Reconciler sweeps the DLQ.
type Reconciler struct {
	dlq      Queue
	store    Store
	interval time.Duration
	hide     time.Duration
	log      *slog.Logger
}

// New returns a reconciler that sweeps dlq every interval and hides each message it has read for
// hide.
func New(dlq Queue, store Store, interval, hide time.Duration, log *slog.Logger) *Reconciler {
	return &Reconciler{dlq: dlq, store: store, interval: interval, hide: hide, log: log.With(slog.String("component", "dlq_reconciler"))}
}

// Run sweeps at once and then every interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		if _, err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("DLQ sweep stopped early: trying again at the next sweep", slog.String(logging.KeyStatus, "RUNNING"),
				slog.String(logging.KeyErrorCode, CodeSweepFailed), logging.Err(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Result counts what one sweep did.
type Result struct {
	Read   int // DLQ messages looked at
	Failed int // gifts moved from QUEUED to FAILED
}

// Sweep reads every visible DLQ message once and fails the QUEUED gifts among them. It stops at
// the first error (the database or SQS unreachable), releasing the messages it has not looked at.
func (r *Reconciler) Sweep(ctx context.Context) (Result, error) {
	var res Result
	for range maxBatchesPerSweep {
		// A one-second long poll asks every SQS server, so an empty answer means an empty DLQ.
		msgs, err := r.dlq.Receive(ctx, 10, time.Second, r.hide)
		if err != nil {
			return res, err
		}
		if len(msgs) == 0 {
			return res, nil
		}
		for i, m := range msgs {
			failed, err := r.reconcile(ctx, m)
			if err != nil {
				r.release(ctx, msgs[i:])
				return res, err
			}
			res.Read++
			if failed {
				res.Failed++
			}
		}
	}
	return res, nil
}

// reconcile fails m's gift when it is still QUEUED under m's send request, and reports whether it
// did. Messages that name no known send request are left alone: the worker logged them already.
func (r *Reconciler) reconcile(ctx context.Context, m sqs.Received) (bool, error) {
	msg, err := queue.Parse([]byte(m.Body))
	if err != nil {
		return false, nil
	}
	st, err := r.store.SendState(ctx, msg.GiftID, msg.RequestID)
	if errors.Is(err, gift.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reconcile DLQ message %s: %w", m.ID, err)
	}
	if !st.RequestExists || st.Status != gift.StatusQueued {
		return false, nil
	}
	changed, err := r.store.MarkFailed(ctx, msg.GiftID, LastError)
	if err != nil {
		return false, fmt.Errorf("reconcile DLQ message %s: %w", m.ID, err)
	}
	if changed {
		r.log.Error("gift still QUEUED with its message in the DLQ: marked FAILED",
			slog.String(logging.KeyGiftID, msg.GiftID.String()), slog.String(logging.KeyRequestID, msg.RequestID),
			slog.String(logging.KeyStatus, string(gift.StatusFailed)), slog.String(logging.KeyErrorCode, CodeSendFailedFinal),
			slog.String(logging.KeyErrorMessage, LastError), slog.String("message_id", m.ID), slog.Bool("reconciled", true))
	}
	return changed, nil
}

// release makes messages visible again at once so the next sweep reads them.
func (r *Reconciler) release(ctx context.Context, msgs []sqs.Received) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, m := range msgs {
		_ = r.dlq.ChangeVisibility(ctx, m.ReceiptHandle, 0)
	}
}
