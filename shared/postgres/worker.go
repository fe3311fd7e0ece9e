package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// SendState is what the worker needs to know before it sends: whether the send request named by a
// message exists, and the gift's current status.
type SendState struct {
	RequestExists bool
	Status        gift.Status
}

// SendState reads the gift's status and whether (giftID, requestID) is a known send request;
// gift.ErrNotFound when the gift does not exist.
func (s *Store) SendState(ctx context.Context, giftID uuid.UUID, requestID string) (SendState, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var st SendState
	err := s.pool.QueryRow(ctx, `
		SELECT g.status, EXISTS (SELECT 1 FROM send_requests r WHERE r.gift_id = g.id AND r.request_id = $2)
		FROM gifts g WHERE g.id = $1`, giftID, requestID).Scan(&st.Status, &st.RequestExists)
	if errors.Is(err, pgx.ErrNoRows) {
		return SendState{}, gift.ErrNotFound
	}
	if err != nil {
		return SendState{}, classify(fmt.Sprintf("read send state of gift %s", giftID), err)
	}
	return st, nil
}

// MarkSent moves a QUEUED gift to SENT. It reports false when the gift was not QUEUED (another
// delivery of the same message already finished it), which callers treat as done.
func (s *Store) MarkSent(ctx context.Context, giftID uuid.UUID) (bool, error) {
	return s.finish(ctx, giftID, gift.StatusSent, nil)
}

// MarkFailed moves a QUEUED gift to FAILED with lastError. It reports false when the gift was not
// QUEUED.
func (s *Store) MarkFailed(ctx context.Context, giftID uuid.UUID, lastError string) (bool, error) {
	return s.finish(ctx, giftID, gift.StatusFailed, &lastError)
}

// finish moves a QUEUED gift to `to` and appends the change to its history, in one statement
// (so one transaction), with the worker as the actor and the gift's send request as request_id.
func (s *Store) finish(ctx context.Context, giftID uuid.UUID, to gift.Status, lastError *string) (bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `
		WITH changed AS (
			UPDATE gifts SET status = $2, last_error = $3, updated_at = now()
			WHERE id = $1 AND status = $4
			RETURNING id)
		INSERT INTO gift_events (gift_id, from_status, to_status, actor, reason, request_id)
		SELECT c.id, $4, $2, $5, $3,
		       (SELECT r.request_id FROM send_requests r WHERE r.gift_id = c.id ORDER BY r.created_at DESC LIMIT 1)
		FROM changed c`, giftID, to, lastError, gift.StatusQueued, gift.ActorWorker)
	if err != nil {
		return false, classify(fmt.Sprintf("mark gift %s %s", giftID, to), err)
	}
	return tag.RowsAffected() == 1, nil
}
