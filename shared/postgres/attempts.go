package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// The worker's side of the store. Every change is conditional on the gift's status and on the
// message's send request and attempt series (gift.Series), in SQL, under the gift's row lock: the
// lock every other change of the gift (operator retry, DLQ settlement) takes first, so a decision
// taken on an earlier read can never change a gift that was retried meanwhile
// (docs/architecture.md, "Decision: the series decides, attempts are counted where they run").

// SendState reads the gift's status and, for the send request (giftID, requestID), its series,
// the attempts begun in it and the lease of the attempt running now; gift.ErrNotFound when the gift
// does not exist. RequestExists is false when the gift has no such send request.
func (s *Store) SendState(ctx context.Context, giftID uuid.UUID, requestID string) (gift.SendState, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var st gift.SendState
	var series, attempts *int
	var leaseLeft float64
	err := s.pool.QueryRow(ctx, `
		SELECT g.status, r.retries, r.attempts,
		       coalesce(greatest(extract(epoch FROM r.attempt_until - now()), 0), 0)::float8
		FROM gifts g
		LEFT JOIN send_requests r ON r.gift_id = g.id AND r.request_id = $2
		WHERE g.id = $1`, giftID, requestID).Scan(&st.Status, &series, &attempts, &leaseLeft)
	if errors.Is(err, pgx.ErrNoRows) {
		return gift.SendState{}, gift.ErrNotFound
	}
	if err != nil {
		return gift.SendState{}, classify(fmt.Sprintf("read send state of gift %s", giftID), err)
	}
	if series != nil {
		st.RequestExists, st.Series, st.Attempts = true, *series, *attempts
		st.LeaseLeft = time.Duration(leaseLeft * float64(time.Second))
	}
	return st, nil
}

// BeginAttempt begins the next attempt of series for the delivery by (a token drawn per message
// in hand), in one statement: it counts the attempt and takes its lease (until now + lease) only if
// the gift is QUEUED, the series is the send request's current one, fewer than maxAttempts
// attempts have begun and no other attempt's lease is live. Called again by the same delivery (its
// first answer was lost with the connection), it returns the attempt that delivery began instead
// of counting another. ok is false when one of those does not hold; the caller reads the state
// again to learn which.
func (s *Store) BeginAttempt(ctx context.Context, series gift.Series, by uuid.UUID, maxAttempts int, lease time.Duration) (a gift.Attempt, ok bool, err error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	// The CTE takes the gift's row lock first, as every other change of the gift does; a retry
	// committed while it waited has changed the send request, which the UPDATE then checks again in
	// its newest version (READ COMMITTED re-evaluates the WHERE of a row updated meanwhile).
	a.Series = series
	err = s.pool.QueryRow(ctx, `
		WITH g AS (SELECT id FROM gifts WHERE id = $1 AND status = $6 FOR UPDATE)
		UPDATE send_requests r
		SET attempts = CASE WHEN r.attempt_by = $7 THEN r.attempts ELSE r.attempts + 1 END,
		    attempt_until = now() + $5::interval, attempt_by = $7
		FROM g
		WHERE r.gift_id = g.id AND r.request_id = $2 AND r.retries = $3
		  AND (r.attempt_by = $7 OR (r.attempts < $4 AND (r.attempt_until IS NULL OR r.attempt_until <= now())))
		RETURNING r.attempts`, series.GiftID, series.RequestID, series.Retry, maxAttempts, lease, gift.StatusQueued, by).Scan(&a.Number)
	if errors.Is(err, pgx.ErrNoRows) {
		return gift.Attempt{}, false, nil
	}
	if err != nil {
		return gift.Attempt{}, false, classify(fmt.Sprintf("begin an attempt of gift %s", series.GiftID), err)
	}
	return a, true, nil
}

// RenewAttempt extends the lease of attempt a to now + lease while a is still the send request's
// latest attempt and has not ended; false when it is not (it ended, or a later attempt began).
func (s *Store) RenewAttempt(ctx context.Context, a gift.Attempt, lease time.Duration) (bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `
		UPDATE send_requests SET attempt_until = now() + $5::interval
		WHERE gift_id = $1 AND request_id = $2 AND retries = $3 AND attempts = $4 AND attempt_until IS NOT NULL`,
		a.GiftID, a.RequestID, a.Retry, a.Number, lease)
	if err != nil {
		return false, classify(fmt.Sprintf("renew the lease of attempt %d of gift %s", a.Number, a.GiftID), err)
	}
	return tag.RowsAffected() == 1, nil
}

// EndAttempt ends the lease of attempt a, which failed and will be retried, so that the next
// delivery can begin the next attempt at once. Nothing changes if a is no longer the latest.
func (s *Store) EndAttempt(ctx context.Context, a gift.Attempt) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `
		UPDATE send_requests SET attempt_until = NULL
		WHERE gift_id = $1 AND request_id = $2 AND retries = $3 AND attempts = $4`,
		a.GiftID, a.RequestID, a.Retry, a.Number)
	return classify(fmt.Sprintf("end attempt %d of gift %s", a.Number, a.GiftID), err)
}

// MarkSent moves the gift of series to SENT if it is QUEUED and series is its send request's
// current one. It reports false when nothing changed (another delivery finished the gift first,
// or an operator retry started a later series), which callers treat as done.
func (s *Store) MarkSent(ctx context.Context, series gift.Series) (bool, error) {
	return s.finish(ctx, series, gift.StatusSent, nil)
}

// MarkFailed moves the gift of series to FAILED with lastError, under the same conditions as
// MarkSent.
func (s *Store) MarkFailed(ctx context.Context, series gift.Series, lastError string) (bool, error) {
	return s.finish(ctx, series, gift.StatusFailed, &lastError)
}

// finish moves the gift of series from QUEUED to `to`, ends any attempt lease, and appends the
// change to its history (the worker as the actor, the series' request as request_id), in one
// transaction under the gift's row lock.
func (s *Store) finish(ctx context.Context, series gift.Series, to gift.Status, lastError *string) (bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	changed := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The row lock first; the statement after it reads the send request as committed by then.
		if _, err := lockGift(ctx, tx, series.GiftID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			WITH r AS (
				UPDATE send_requests SET attempt_until = NULL
				WHERE gift_id = $1 AND request_id = $2 AND retries = $3
				RETURNING gift_id),
			changed AS (
				UPDATE gifts g SET status = $4, last_error = $5, updated_at = now()
				FROM r WHERE g.id = r.gift_id AND g.status = $6
				RETURNING g.id)
			INSERT INTO gift_events (gift_id, from_status, to_status, actor, reason, request_id)
			SELECT c.id, $6, $4, $7, $5, $2 FROM changed c`,
			series.GiftID, series.RequestID, series.Retry, to, lastError, gift.StatusQueued, gift.ActorWorker)
		changed = err == nil && tag.RowsAffected() == 1
		return err
	})
	if errors.Is(err, gift.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, classify(fmt.Sprintf("mark gift %s %s", series.GiftID, to), err)
	}
	return changed, nil
}
