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

// DLQSettled returns, of the given DLQ message ids, those already settled and how.
func (s *Store) DLQSettled(ctx context.Context, messageIDs []string) (map[string]gift.Settlement, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	out := map[string]gift.Settlement{}
	if len(messageIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT message_id, outcome FROM dlq_settled WHERE message_id = ANY($1)`, messageIDs)
	if err != nil {
		return nil, classify("read settled DLQ messages", err)
	}
	for rows.Next() {
		var id string
		var o gift.Settlement
		if err := rows.Scan(&id, &o); err != nil {
			rows.Close()
			return nil, classify("read settled DLQ messages", err)
		}
		out[id] = o
	}
	if err := rows.Err(); err != nil {
		return nil, classify("read settled DLQ messages", err)
	}
	return out, nil
}

// SettleDLQMessage decides about one DLQ message and remembers the decision, in one transaction,
// by the rule every consumer of a queue message follows (gift.SendState.Judge, with maxAttempts
// attempts per series): a gift still QUEUED under the message's send request and series whose
// attempts have all begun (none running) is moved to FAILED (actor reconciler, in the history);
// one with attempts left, or with an attempt running, is queued again through the outbox (its
// message only went round: receives were spent without attempts); anything else is left as it
// is. body is the message body (parse errors make it SettledInvalid). A message settled before (by
// another worker task meanwhile) is left alone and reported with its earlier settlement.
func (s *Store) SettleDLQMessage(ctx context.Context, messageID, body string, maxAttempts int) (gift.Settlement, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var out gift.Settlement
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		msg, perr := queue.Parse([]byte(body))
		var giftID *uuid.UUID
		var requestID *string
		if perr == nil {
			giftID, requestID = &msg.GiftID, &msg.RequestID
		}
		// The message's row first: a concurrent settlement of the same message waits here and
		// then finds it taken.
		tag, err := tx.Exec(ctx, `
			INSERT INTO dlq_settled (message_id, gift_id, request_id, outcome) VALUES ($1, $2, $3, $4)
			ON CONFLICT (message_id) DO NOTHING`, messageID, giftID, requestID, gift.SettledInvalid)
		if err != nil {
			return fmt.Errorf("record DLQ message %s: %w", messageID, err)
		}
		if tag.RowsAffected() == 0 {
			return tx.QueryRow(ctx, `SELECT outcome FROM dlq_settled WHERE message_id = $1`, messageID).Scan(&out)
		}
		if perr != nil {
			out = gift.SettledInvalid
			return nil
		}
		if out, err = decide(ctx, tx, msg, body, maxAttempts); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE dlq_settled SET outcome = $2 WHERE message_id = $1`, messageID, out)
		return err
	})
	if err != nil {
		return "", domainOr(fmt.Sprintf("settle DLQ message %s", messageID), err)
	}
	return out, nil
}

// decide settles msg (whose body is body) under the gift's row lock.
func decide(ctx context.Context, tx pgx.Tx, msg queue.Message, body string, maxAttempts int) (gift.Settlement, error) {
	status, err := lockGift(ctx, tx, msg.GiftID)
	if errors.Is(err, gift.ErrNotFound) {
		return gift.SettledUnknown, nil
	}
	if err != nil {
		return "", err
	}
	st := gift.SendState{Status: status}
	var leaseLeft float64
	var outboxed bool
	err = tx.QueryRow(ctx, `
		SELECT retries, attempts, coalesce(greatest(extract(epoch FROM attempt_until - now()), 0), 0)::float8,
		       EXISTS (SELECT 1 FROM outbox_messages o WHERE o.gift_id = $1)
		FROM send_requests WHERE gift_id = $1 AND request_id = $2`,
		msg.GiftID, msg.RequestID).Scan(&st.Series, &st.Attempts, &leaseLeft, &outboxed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return gift.SettledUnknown, nil
	case err != nil:
		return "", fmt.Errorf("read send request: %w", err)
	}
	st.RequestExists, st.LeaseLeft = true, time.Duration(leaseLeft*float64(time.Second))
	switch st.Judge(msg.Retry, maxAttempts) {
	case gift.VerdictUnknown:
		return gift.SettledUnknown, nil
	case gift.VerdictSuperseded:
		return gift.SettledSuperseded, nil
	case gift.VerdictFinished:
		return gift.SettledAlreadyFinal, nil
	case gift.VerdictExhausted:
		lastError := gift.ExhaustedReason(st.Attempts, gift.ReachedDLQ)
		if _, err := tx.Exec(ctx, `UPDATE gifts SET status = $2, last_error = $3, updated_at = now() WHERE id = $1`,
			msg.GiftID, gift.StatusFailed, lastError); err != nil {
			return "", fmt.Errorf("fail gift: %w", err)
		}
		if err := insertEvent(ctx, tx, gift.Event{GiftID: msg.GiftID, From: status, To: gift.StatusFailed, Actor: gift.ActorReconciler,
			Reason: lastError, RequestID: msg.RequestID}); err != nil {
			return "", err
		}
		return gift.SettledFailed, nil
	}
	// Attempts left (or one running): the message went round without its attempts. The same
	// message goes back on the main queue through the outbox, unless a message of the gift waits
	// there already; the history says so (QUEUED -> QUEUED).
	reason := fmt.Sprintf("requeued: the message reached the dead-letter queue after %d of %d attempts (receives spent without attempts)",
		st.Attempts, maxAttempts)
	if err := insertEvent(ctx, tx, gift.Event{GiftID: msg.GiftID, From: status, To: status, Actor: gift.ActorReconciler,
		Reason: reason, RequestID: msg.RequestID}); err != nil {
		return "", err
	}
	if !outboxed {
		if _, err := insertOutbox(ctx, tx, msg.GiftID, msg.RequestID, []byte(body), gift.OutboxClaim{}, ""); err != nil {
			return "", err
		}
	}
	return gift.SettledRequeued, nil
}

// PruneDLQSettled forgets settlements older than olderThan (the DLQ's retention: their messages
// are gone) and returns how many.
func (s *Store) PruneDLQSettled(ctx context.Context, olderThan time.Duration) (int64, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM dlq_settled WHERE settled_at < now() - $1::interval`, olderThan)
	if err != nil {
		return 0, classify("prune settled DLQ messages", err)
	}
	return tag.RowsAffected(), nil
}

// Redrive moves a DLQ message's gift back onto the send queue (giftctl dlq redrive), in one
// transaction: the gift must still be QUEUED under msg's send request and attempt series; the
// series is advanced (send_requests.retries + 1, its attempts counted from 0 again), the gift's outbox rows of the old series are
// removed, a message of the new series goes into the outbox (the API's relay publishes it), and a
// QUEUED -> QUEUED entry with who and why goes into the history. The DLQ copy is deleted by the
// caller afterwards; if that delete never happens (it failed, giftctl was interrupted), the copy
// belongs to an earlier series: the reconciler settles it as superseded and the next redrive drops
// it, so it can neither fail the gift nor make the moved message a duplicate.
func (s *Store) Redrive(ctx context.Context, msg queue.Message, actorName, reason string) (gift.Retry, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var out gift.Retry
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		status, err := lockGift(ctx, tx, msg.GiftID)
		if err != nil {
			return err
		}
		var force bool
		err = tx.QueryRow(ctx, `
			UPDATE send_requests SET retries = retries + 1, attempts = 0, attempt_until = NULL, attempt_by = NULL
			WHERE gift_id = $1 AND request_id = $2 AND retries = $3
			  AND request_id = (SELECT request_id FROM send_requests WHERE gift_id = $1 ORDER BY created_at DESC LIMIT 1)
			RETURNING request_id, retries, force_failure`, msg.GiftID, msg.RequestID, msg.Retry).Scan(&out.RequestID, &out.Series, &force)
		if errors.Is(err, pgx.ErrNoRows) || status != gift.StatusQueued {
			return gift.ErrNotRedrivable
		}
		if err != nil {
			return fmt.Errorf("advance the attempt series: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM outbox_messages WHERE gift_id = $1`, msg.GiftID); err != nil {
			return fmt.Errorf("remove outbox messages of the earlier series: %w", err)
		}
		if err := insertEvent(ctx, tx, gift.Event{GiftID: msg.GiftID, From: status, To: status, Actor: gift.ActorOperator,
			ActorName: actorName, Reason: reason, RequestID: out.RequestID}); err != nil {
			return err
		}
		body, err := queue.Message{GiftID: msg.GiftID, RequestID: out.RequestID, ForceFailure: force, Retry: out.Series}.Marshal()
		if err != nil {
			return err
		}
		out.OutboxID, err = insertOutbox(ctx, tx, msg.GiftID, out.RequestID, body, gift.OutboxClaim{}, string(tracing.FromContext(ctx)))
		return err
	})
	if errors.Is(err, gift.ErrNotRedrivable) {
		return gift.Retry{}, gift.ErrNotRedrivable
	}
	if err != nil {
		return gift.Retry{}, domainOr(fmt.Sprintf("redrive gift %s", msg.GiftID), err)
	}
	return out, nil
}
