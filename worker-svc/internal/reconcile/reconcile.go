// Package reconcile closes the one gap the retry policy leaves open: a message that reaches the
// DLQ while its gift is still QUEUED. The worker copies the last attempt's message to the DLQ and
// then stores FAILED, but a worker killed in between, or during that attempt (SIGKILL, OOM, a lost
// task), never gets to, and the gift would stay QUEUED forever; and a message can run out of receives before its
// attempts ran out (held through a database outage and released at shutdown). The reconciler reads
// the DLQ periodically and, by the rule every consumer follows (gift.SendState.Judge), marks FAILED
// a gift whose attempts all ran, and queues again (through the outbox, deleting the DLQ copy) one
// with attempts left, so every gift ends SENT or FAILED after its own attempts.
//
// It deletes only the DLQ copies of the gifts it queued again: operators list, retry and redrive
// the others with giftctl
// (docs/runbook.md). A DLQ of any size is read in passes: each sweep looks at the next share of
// at most maxPerSweep messages and keeps every message of the pass hidden until a receive comes
// back empty (the whole DLQ seen), then releases them all, so every message is reached whatever
// order SQS returns them in (docs/architecture.md, "DLQ reconciler"). A DLQ within one share is
// hidden for one sweep only. What it has decided about each message
// is remembered in the database (dlq_settled), so later sweeps skip settled messages without
// touching their gifts; a message of an earlier attempt series (the gift was retried since) is
// recognised by its "retry" number and never fails the retried gift. The worker's task role
// needs sqs:ReceiveMessage, sqs:ChangeMessageVisibility, sqs:DeleteMessage and sqs:GetQueueAttributes on
// the DLQ (and the worker sqs:SendMessage: it moves the messages of the gifts it fails there).
package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

// CodeSendFailedFinal is the worker's code for a gift that ended FAILED; the reconciler uses it too
// (with reconciled=true), since this is the same final failure, found late.
const CodeSendFailedFinal = "SEND_FAILED_FINAL"

// CodeSweepFailed (WARN): a sweep stopped early (database or SQS unreachable); the next one retries.
const CodeSweepFailed = "DLQ_SWEEP_FAILED"

const (
	// maxPerSweep bounds one sweep so a huge DLQ is worked through over several sweeps.
	maxPerSweep = 1000
	// sweepHold hides the messages a pass has taken until it releases them at its end; each sweep
	// renews the hold of those taken more than half a hold ago. Only a reconciler that dies keeps
	// them hidden that long.
	sweepHold = 2 * time.Minute
	// passPause separates the sweeps of a pass that is not finished (instead of the interval), so
	// that a large DLQ stays hidden only as long as it takes to read it.
	passPause = time.Second
	// retention is the DLQ's message retention (modules/sqs, EnsureQueues): older settlements
	// name messages that are gone.
	retention = 14 * 24 * time.Hour
)

// Queue is the DLQ (shared/sqs.Consumer).
type Queue interface {
	Browse(ctx context.Context, hold time.Duration, limit int) ([]queue.Received, error)
	Release(ctx context.Context, msgs []queue.Received) error
	Hide(ctx context.Context, msgs []queue.Received, d time.Duration) error
	Delete(ctx context.Context, receiptHandle string) error
}

// Store is the part of the gift store the reconciler uses (shared/postgres.Store).
type Store interface {
	DLQSettled(ctx context.Context, messageIDs []string) (map[string]gift.Settlement, error)
	SettleDLQMessage(ctx context.Context, messageID, body string, maxAttempts int) (gift.Settlement, error)
	PruneDLQSettled(ctx context.Context, olderThan time.Duration) (int64, error)
}

// Reconciler sweeps the DLQ.
type Reconciler struct {
	dlq         Queue
	store       Store
	interval    time.Duration
	maxAttempts int
	log         *slog.Logger

	// The current pass: the messages seen since the last time the whole DLQ was read, kept hidden.
	// Sweep is not safe for concurrent use (Run calls it from one goroutine).
	pass     []queue.Received
	heldAt   []time.Time // when each message of pass was last hidden
	passSeen map[string]int
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
	defer r.endPass(context.WithoutCancel(ctx))
	for {
		if _, err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("DLQ sweep stopped early: trying again at the next sweep", slog.String(logging.KeyStatus, "RUNNING"),
				slog.String(logging.KeyErrorCode, CodeSweepFailed), logging.Err(err))
		}
		wait := r.interval
		if len(r.pass) > 0 {
			wait = min(wait, passPause)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// endPass releases every message of the pass, visible at once, and starts a new pass.
func (r *Reconciler) endPass(ctx context.Context) {
	if len(r.pass) > 0 {
		if err := r.dlq.Release(ctx, r.pass); err != nil {
			r.log.Warn("DLQ messages not released: visible again after the sweep's hold", slog.String(logging.KeyStatus, "RUNNING"),
				slog.String(logging.KeyErrorCode, CodeSweepFailed), slog.Duration("hold", sweepHold), logging.Err(err))
		}
	}
	r.pass, r.heldAt, r.passSeen = nil, nil, nil
}

// renewHolds hides again, for a whole hold, the messages of the pass taken more than half a hold
// ago, so none comes back before the pass ends.
func (r *Reconciler) renewHolds(ctx context.Context) error {
	now := time.Now()
	var due []queue.Received
	var idx []int
	for i, at := range r.heldAt {
		if now.Sub(at) > sweepHold/2 {
			due, idx = append(due, r.pass[i]), append(idx, i)
		}
	}
	if len(due) == 0 {
		return nil
	}
	if err := r.dlq.Hide(ctx, due, sweepHold); err != nil {
		return fmt.Errorf("reconcile DLQ: renew the hold of %d message(s): %w", len(due), err)
	}
	for _, i := range idx {
		r.heldAt[i] = now
	}
	return nil
}

// Result counts what one sweep did.
type Result struct {
	Read    int // DLQ messages looked at
	Settled int // of which settled now (the others were settled by earlier sweeps)
	Failed  int // gifts moved from QUEUED to FAILED
	// Requeued counts gifts queued again: their message reached the DLQ with attempts left.
	Requeued int
}

// Sweep looks at the DLQ's next share (at most maxPerSweep messages not seen yet in the current
// pass) and settles those not settled before (failing the QUEUED gifts among them). The messages
// stay hidden while the pass goes on; when the share came back short (a receive found nothing
// visible: the whole DLQ has been seen) the pass ends and every message is made visible again
// before Sweep returns. On an error (the database or SQS unreachable) it ends the pass too,
// releasing everything, and returns the error.
func (r *Reconciler) Sweep(ctx context.Context) (res Result, err error) {
	if r.passSeen == nil {
		r.passSeen = map[string]int{}
	}
	finished := false
	defer func() {
		if err != nil || finished {
			r.endPass(context.WithoutCancel(ctx))
		}
	}()
	if err := r.renewHolds(ctx); err != nil {
		return res, err
	}
	got, err := r.dlq.Browse(ctx, sweepHold, maxPerSweep)
	if err != nil {
		return res, err
	}
	now := time.Now()
	var msgs []queue.Received // new to this pass
	for _, m := range got {
		if i, ok := r.passSeen[m.ID]; ok { // back before the pass ended: keep the newest handle
			r.pass[i], r.heldAt[i] = m, now
			continue
		}
		r.passSeen[m.ID] = len(r.pass)
		r.pass, r.heldAt = append(r.pass, m), append(r.heldAt, now)
		msgs = append(msgs, m)
	}
	// A short share means a receive found nothing visible; a share of nothing new means the
	// messages of this pass are coming back (their hold ran out): either way, start again.
	finished = len(got) < maxPerSweep || len(msgs) == 0
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
		case gift.SettledFailed:
			res.Failed++
			r.logFailed(m)
		case gift.SettledRequeued:
			res.Requeued++
			r.requeued(ctx, m)
		}
	}
	if _, err := r.store.PruneDLQSettled(ctx, retention); err != nil {
		return res, fmt.Errorf("reconcile DLQ: %w", err)
	}
	return res, nil
}

func (r *Reconciler) logFailed(m queue.Received) {
	msg, _ := queue.Parse([]byte(m.Body)) // it parsed, or it could not have failed a gift
	r.log.Error("gift still QUEUED with its message in the DLQ: marked FAILED",
		slog.String(logging.KeyGiftID, msg.GiftID.String()), slog.String(logging.KeyRequestID, msg.RequestID),
		logging.Correlation(msg.CorrelationID),
		slog.String(logging.KeyStatus, string(gift.StatusFailed)), slog.String(logging.KeyErrorCode, CodeSendFailedFinal),
		slog.Int("series", msg.Retry), slog.String(logging.KeyErrorMessage, gift.ReachedDLQ), slog.String("message_id", m.ID),
		slog.Bool("reconciled", true))
}

// requeued reports a gift queued again, and deletes its DLQ copy: the message is back on the main
// queue (through the outbox), and an operator has nothing to do about this one. A copy that
// cannot be deleted stays, settled, and later sweeps skip it. A deleted copy leaves the pass.
func (r *Reconciler) requeued(ctx context.Context, m queue.Received) {
	msg, _ := queue.Parse([]byte(m.Body)) // it parsed, or it could not have been requeued
	log := r.log.With(slog.String(logging.KeyGiftID, msg.GiftID.String()), slog.String(logging.KeyRequestID, msg.RequestID),
		logging.Correlation(msg.CorrelationID),
		slog.Int("series", msg.Retry), slog.String("message_id", m.ID), slog.Int("receive_count", m.ReceiveCount))
	log.Info("message reached the DLQ with attempts left (receives spent without attempts): gift queued again",
		slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.Bool("reconciled", true))
	if err := r.dlq.Delete(context.WithoutCancel(ctx), m.ReceiptHandle); err != nil {
		log.Warn("DLQ copy of a requeued gift not deleted: it stays, settled as requeued", slog.String(logging.KeyStatus, string(gift.StatusQueued)),
			slog.String(logging.KeyErrorCode, CodeSweepFailed), logging.Err(err))
		return
	}
	r.forget(m.ID)
}

// forget takes a deleted message out of the pass, so that it is neither hidden nor released again.
func (r *Reconciler) forget(id string) {
	i, ok := r.passSeen[id]
	if !ok {
		return
	}
	last := len(r.pass) - 1
	r.pass[i], r.heldAt[i] = r.pass[last], r.heldAt[last]
	r.passSeen[r.pass[i].ID] = i
	r.pass, r.heldAt = r.pass[:last], r.heldAt[:last]
	delete(r.passSeen, id)
}
