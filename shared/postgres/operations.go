package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// This file holds what operators do to gifts (giftctl): look at them, retry a FAILED one,
// re-enqueue a QUEUED one whose message was lost. Every change is one transaction that also
// appends to the gift's history and, when the gift goes back on the queue, writes its message
// through the outbox like the API's send.

// Delivery reads a gift's delivery state; gift.ErrNotFound when there is no such gift.
func (s *Store) Delivery(ctx context.Context, giftID uuid.UUID) (gift.Delivery, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var d gift.Delivery
	err := s.pool.QueryRow(ctx, `
		SELECT g.status, g.last_error, coalesce(r.request_id, ''), coalesce(r.retries, 0), coalesce(r.attempts, 0),
		       EXISTS (SELECT 1 FROM outbox_messages o WHERE o.gift_id = g.id)
		FROM gifts g
		LEFT JOIN LATERAL (SELECT request_id, retries, attempts FROM send_requests WHERE gift_id = g.id
		                   ORDER BY created_at DESC LIMIT 1) r ON true
		WHERE g.id = $1`, giftID).Scan(&d.Status, &d.LastError, &d.RequestID, &d.Retries, &d.Attempts, &d.Outboxed)
	if errors.Is(err, pgx.ErrNoRows) {
		return gift.Delivery{}, gift.ErrNotFound
	}
	if err != nil {
		return gift.Delivery{}, classify(fmt.Sprintf("read delivery state of gift %s", giftID), err)
	}
	return d, nil
}

// RetryFailed is the operator's re-injection of a FAILED gift (giftctl retry), in one transaction:
// FAILED -> QUEUED with last_error cleared, the send request's force_failure cleared, its
// attempt series advanced and its attempts counted from 0 again, the earlier series' outbox
// messages deleted and a new message (same gift_id and request_id) in the outbox, and the
// change in the history with who and why. A gift that is not FAILED is refused with
// gift.NotRetryable; an unknown one with gift.ErrNotFound.
func (s *Store) RetryFailed(ctx context.Context, giftID uuid.UUID, actorName, reason string) (gift.Retry, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var out gift.Retry
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		status, err := lockGift(ctx, tx, giftID)
		if err != nil {
			return err
		}
		if !status.Retryable() {
			return gift.NotRetryable(status)
		}
		// A FAILED gift was sent, so it has its send request.
		err = tx.QueryRow(ctx, `
			UPDATE send_requests SET force_failure = false, retries = retries + 1, attempts = 0, attempt_until = NULL, attempt_by = NULL
			WHERE (gift_id, request_id) = (SELECT gift_id, request_id FROM send_requests WHERE gift_id = $1
			                               ORDER BY created_at DESC LIMIT 1)
			RETURNING request_id, retries`, giftID).Scan(&out.RequestID, &out.Series)
		if err != nil {
			return fmt.Errorf("advance the attempt series: %w", err)
		}
		// No message of the earlier series may be published after the retry: a row the relay has
		// not published yet goes with it (one the relay is publishing right now reaches the queue
		// as a superseded message, which every consumer drops).
		if _, err := tx.Exec(ctx, `DELETE FROM outbox_messages WHERE gift_id = $1`, giftID); err != nil {
			return fmt.Errorf("delete the earlier series' outbox messages: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE gifts SET status = $2, last_error = NULL, updated_at = now() WHERE id = $1`,
			giftID, gift.StatusQueued); err != nil {
			return fmt.Errorf("queue gift: %w", err)
		}
		if err := insertEvent(ctx, tx, gift.Event{GiftID: giftID, From: status, To: gift.StatusQueued, Actor: gift.ActorOperator,
			ActorName: actorName, Reason: reason, RequestID: out.RequestID}); err != nil {
			return err
		}
		body, err := queue.Message{GiftID: giftID, RequestID: out.RequestID, Retry: out.Series}.Marshal()
		if err != nil {
			return err
		}
		out.OutboxID, err = insertOutbox(ctx, tx, giftID, out.RequestID, body, gift.OutboxClaim{}, string(tracing.FromContext(ctx)))
		return err
	})
	if err != nil {
		return gift.Retry{}, domainOr(fmt.Sprintf("retry gift %s", giftID), err)
	}
	return out, nil
}

// QueuedWithoutOutbox lists QUEUED gifts that have no outbox message and have been QUEUED (or last
// re-enqueued) for longer than olderThan, oldest first, at most limit of them.
func (s *Store) QueuedWithoutOutbox(ctx context.Context, olderThan time.Duration, limit int) ([]gift.Orphan, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `
		SELECT g.id, r.request_id, r.retries, extract(epoch FROM now() - q.since)::float8
		FROM gifts g
		JOIN LATERAL (SELECT request_id, retries FROM send_requests WHERE gift_id = g.id
		              ORDER BY created_at DESC LIMIT 1) r ON true
		CROSS JOIN LATERAL (SELECT greatest(g.updated_at, (SELECT max(e.at) FROM gift_events e WHERE e.gift_id = g.id)) AS since) q
		WHERE g.status = $1 AND q.since < now() - $2::interval
		  AND NOT EXISTS (SELECT 1 FROM outbox_messages o WHERE o.gift_id = g.id)
		ORDER BY q.since LIMIT $3`, gift.StatusQueued, olderThan, limit)
	if err != nil {
		return nil, classify("list QUEUED gifts without an outbox message", err)
	}
	orphans, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gift.Orphan, error) {
		var o gift.Orphan
		var age float64
		err := r.Scan(&o.GiftID, &o.RequestID, &o.Series, &age)
		o.QueuedFor = time.Duration(age * float64(time.Second))
		return o, err
	})
	if err != nil {
		return nil, classify("list QUEUED gifts without an outbox message", err)
	}
	return orphans, nil
}

// Reenqueue puts a QUEUED gift's message back through the outbox (giftctl reconcile --apply), in
// one transaction with a history entry QUEUED -> QUEUED; ErrNotOrphaned when the gift changed
// meanwhile. The message is the one the gift's send request describes (same request_id,
// force_failure and attempt series).
func (s *Store) Reenqueue(ctx context.Context, giftID uuid.UUID, actorName, reason string) (int64, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var outboxID int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		status, err := lockGift(ctx, tx, giftID)
		if err != nil {
			return err
		}
		var m queue.Message
		var outboxed bool
		err = tx.QueryRow(ctx, `
			SELECT r.request_id, r.force_failure, r.retries, EXISTS (SELECT 1 FROM outbox_messages o WHERE o.gift_id = r.gift_id)
			FROM send_requests r WHERE r.gift_id = $1 ORDER BY r.created_at DESC LIMIT 1`, giftID).
			Scan(&m.RequestID, &m.ForceFailure, &m.Retry, &outboxed)
		if errors.Is(err, pgx.ErrNoRows) || status != gift.StatusQueued || outboxed {
			return gift.ErrNotOrphaned
		}
		if err != nil {
			return fmt.Errorf("read send request: %w", err)
		}
		m.GiftID = giftID
		if err := insertEvent(ctx, tx, gift.Event{GiftID: giftID, From: status, To: status, Actor: gift.ActorOperator,
			ActorName: actorName, Reason: reason, RequestID: m.RequestID}); err != nil {
			return err
		}
		body, err := m.Marshal()
		if err != nil {
			return err
		}
		outboxID, err = insertOutbox(ctx, tx, giftID, m.RequestID, body, gift.OutboxClaim{}, string(tracing.FromContext(ctx)))
		return err
	})
	if errors.Is(err, gift.ErrNotOrphaned) {
		return 0, gift.ErrNotOrphaned
	}
	if err != nil {
		return 0, domainOr(fmt.Sprintf("re-enqueue gift %s", giftID), err)
	}
	return outboxID, nil
}

// Overview counts gifts by status and the QUEUED gifts waiting longer than stuckAfter.
func (s *Store) Overview(ctx context.Context, stuckAfter time.Duration) (gift.Overview, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	o := gift.Overview{ByStatus: map[gift.Status]int64{}}
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM gifts GROUP BY status`)
	if err != nil {
		return gift.Overview{}, classify("count gifts by status", err)
	}
	for rows.Next() {
		var st gift.Status
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return gift.Overview{}, classify("count gifts by status", err)
		}
		o.ByStatus[st] = n
	}
	if err := rows.Err(); err != nil {
		return gift.Overview{}, classify("count gifts by status", err)
	}
	var age float64
	err = s.pool.QueryRow(ctx, `
		SELECT coalesce(extract(epoch FROM now() - min(updated_at)), 0)::float8,
		       count(*) FILTER (WHERE updated_at < now() - $2::interval)
		FROM gifts WHERE status = $1`, gift.StatusQueued, stuckAfter).Scan(&age, &o.Stuck)
	if err != nil {
		return gift.Overview{}, classify("read the age of QUEUED gifts", err)
	}
	o.OldestQueued = time.Duration(age * float64(time.Second))
	return o, nil
}

// lockGift takes the gift's row lock for the rest of tx and returns its status.
func lockGift(ctx context.Context, tx pgx.Tx, giftID uuid.UUID) (gift.Status, error) {
	var status gift.Status
	err := tx.QueryRow(ctx, `SELECT status FROM gifts WHERE id = $1 FOR UPDATE`, giftID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", gift.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("lock gift: %w", err)
	}
	return status, nil
}

// domainOr returns a domain error as it is and classifies anything else.
func domainOr(op string, err error) error {
	if gift.KindOf(err) != 0 && !errors.Is(err, gift.ErrUnavailable) {
		return err
	}
	return classify(op, err)
}
