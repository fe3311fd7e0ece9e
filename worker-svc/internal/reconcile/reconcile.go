// Package reconcile closes the one gap the retry policy leaves open: a message that reaches the
// DLQ while its gift is still QUEUED. The worker stores FAILED before it lets the last attempt's
// message go to the DLQ, but a worker killed during that attempt (SIGKILL, OOM, a lost task) never
// gets to, and the gift would stay QUEUED forever; and a message can run out of receives before its
// attempts ran out (held through a database outage and released at shutdown). The reconciler reads
// the DLQ periodically and, by the rule every consumer follows (gift.SendState.Judge), marks FAILED
// a gift whose attempts all ran, and queues again (through the outbox, deleting the DLQ copy) one
// with attempts left, so every gift ends SENT or FAILED after its own attempts.
//
// It deletes only the DLQ copies of the gifts it queued again, and never hides one for longer than a sweep: operators list,
// retry and redrive them with giftctl (docs/runbook.md). What it has decided about each message
// is remembered in the database (dlq_settled), so later sweeps skip settled messages without
// touching their gifts; a message of an earlier attempt series (the gift was retried since) is
// recognised by its "retry" number and never fails the retried gift. The worker's task role
// needs sqs:ReceiveMessage, sqs:ChangeMessageVisibility and sqs:GetQueueAttributes on the DLQ.
package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

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

const (
	// maxPerSweep bounds one sweep so a huge DLQ is worked through over several sweeps.
	maxPerSweep = 1000
	// sweepHold hides the messages a sweep has taken until it releases them at its end: only a
	// sweep that dies keeps them hidden that long.
	sweepHold = time.Minute
	// retention is the DLQ's message retention (modules/sqs, EnsureQueues): older settlements
	// name messages that are gone.
	retention = 14 * 24 * time.Hour
)

// Queue is the DLQ (shared/sqs.Consumer).
type Queue interface {
	Browse(ctx context.Context, hold time.Duration, limit int) ([]sqs.Received, error)
	Release(ctx context.Context, msgs []sqs.Received) error
	Delete(ctx context.Context, receiptHandle string) error
}

// Store is the part of the gift store the reconciler uses (shared/postgres.Store).
type Store interface {
	DLQSettled(ctx context.Context, messageIDs []string) (map[string]postgres.Settlement, error)
	SettleDLQMessage(ctx context.Context, messageID, body string, maxAttempts int) (postgres.Settlement, error)
	PruneDLQSettled(ctx context.Context, olderThan time.Duration) (int64, error)
}

// Reconciler sweeps the DLQ.
type Reconciler struct {
	dlq         Queue
	store       Store
	interval    time.Duration
	maxAttempts int
	log         *slog.Logger
}

// New returns a reconciler that sweeps dlq every interval; maxAttempts is the worker's attempts per
// series (the queue's maxReceiveCount), by which it tells a gift whose attempts ran out (FAILED)
// from one whose message only went round (queued again).
func New(dlq Queue, store Store, interval time.Duration, maxAttempts int, log *slog.Logger) *Reconciler {
	return &Reconciler{dlq: dlq, store: store, interval: interval, maxAttempts: maxAttempts,
		log: log.With(slog.String("component", "dlq_reconciler"))}
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
	Read    int // DLQ messages looked at
	Settled int // of which settled now (the others were settled by earlier sweeps)
	Failed  int // gifts moved from QUEUED to FAILED
	// Requeued counts gifts queued again: their message reached the DLQ with attempts left.
	Requeued int
}

// Sweep looks at every visible DLQ message, settles those not settled before (failing the QUEUED
// gifts among them), and makes every message visible again before it returns. It stops at the
// first error (the database or SQS unreachable).
func (r *Reconciler) Sweep(ctx context.Context) (Result, error) {
	var res Result
	msgs, err := r.dlq.Browse(ctx, sweepHold, maxPerSweep)
	if err != nil {
		return res, err
	}
	defer func() {
		if err := r.dlq.Release(context.WithoutCancel(ctx), msgs); err != nil {
			r.log.Warn("DLQ messages not released: visible again after the sweep's hold", slog.String(logging.KeyStatus, "RUNNING"),
				slog.String(logging.KeyErrorCode, CodeSweepFailed), slog.Duration("hold", sweepHold), logging.Err(err))
		}
	}()
	res.Read = len(msgs)
	if len(msgs) == 0 {
		return res, nil
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	settled, err := r.store.DLQSettled(ctx, ids)
	if err != nil {
		return res, fmt.Errorf("reconcile DLQ: %w", err)
	}
	for _, m := range msgs {
		if _, done := settled[m.ID]; done {
			continue
		}
		outcome, err := r.store.SettleDLQMessage(ctx, m.ID, m.Body, r.maxAttempts)
		if err != nil {
			return res, fmt.Errorf("reconcile DLQ: %w", err)
		}
		res.Settled++
		switch outcome {
		case postgres.SettledFailed:
			res.Failed++
			r.logFailed(m)
		case postgres.SettledRequeued:
			res.Requeued++
			r.requeued(ctx, m)
		}
	}
	if _, err := r.store.PruneDLQSettled(ctx, retention); err != nil {
		return res, fmt.Errorf("reconcile DLQ: %w", err)
	}
	return res, nil
}

func (r *Reconciler) logFailed(m sqs.Received) {
	msg, _ := queue.Parse([]byte(m.Body)) // it parsed, or it could not have failed a gift
	r.log.Error("gift still QUEUED with its message in the DLQ: marked FAILED",
		slog.String(logging.KeyGiftID, msg.GiftID.String()), slog.String(logging.KeyRequestID, msg.RequestID),
		slog.String(logging.KeyStatus, string(gift.StatusFailed)), slog.String(logging.KeyErrorCode, CodeSendFailedFinal),
		slog.Int("series", msg.Retry), slog.String(logging.KeyErrorMessage, postgres.ReachedDLQ), slog.String("message_id", m.ID),
		slog.Bool("reconciled", true))
}

// requeued reports a gift queued again, and deletes its DLQ copy: the message is back on the main
// queue (through the outbox), and an operator has nothing to do about this one. A copy that
// cannot be deleted stays, settled, and later sweeps skip it.
func (r *Reconciler) requeued(ctx context.Context, m sqs.Received) {
	msg, _ := queue.Parse([]byte(m.Body)) // it parsed, or it could not have been requeued
	log := r.log.With(slog.String(logging.KeyGiftID, msg.GiftID.String()), slog.String(logging.KeyRequestID, msg.RequestID),
		slog.Int("series", msg.Retry), slog.String("message_id", m.ID), slog.Int("receive_count", m.ReceiveCount))
	log.Info("message reached the DLQ with attempts left (receives spent without attempts): gift queued again",
		slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.Bool("reconciled", true))
	if err := r.dlq.Delete(context.WithoutCancel(ctx), m.ReceiptHandle); err != nil {
		log.Warn("DLQ copy of a requeued gift not deleted: it stays, settled as requeued", slog.String(logging.KeyStatus, string(gift.StatusQueued)),
			slog.String(logging.KeyErrorCode, CodeSweepFailed), logging.Err(err))
	}
}
