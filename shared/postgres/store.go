package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// Store keeps gifts, send requests and the outbox. Every call runs under its own deadline
// (QueryTimeout), so a stuck database turns into an error instead of a hung request.
type Store struct {
	pool         *pgxpool.Pool
	queryTimeout time.Duration
}

// NewStore returns a store on pool; queryTimeout bounds every call.
func NewStore(pool *pgxpool.Pool, queryTimeout time.Duration) *Store {
	return &Store{pool: pool, queryTimeout: queryTimeout}
}

func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.queryTimeout)
}

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var one int
	return classify("ping database", s.pool.QueryRow(ctx, `SELECT 1`).Scan(&one))
}

// CreateGift inserts a new gift and the first entry of its history.
func (s *Store) CreateGift(ctx context.Context, g gift.Gift) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	// One statement, so one round trip and one transaction.
	_, err := s.pool.Exec(ctx, `
		WITH created AS (
			INSERT INTO gifts (id, code, amount, message, status, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			RETURNING id, status, created_at)
		INSERT INTO gift_events (gift_id, to_status, actor, at)
		SELECT id, status, $8, created_at FROM created`,
		g.ID, g.Code, g.Amount, g.Message, g.Status, g.CreatedAt, g.UpdatedAt, gift.ActorAPI)
	return classify(fmt.Sprintf("insert gift %s", g.ID), err)
}

// GetGift reads one gift; gift.ErrNotFound when there is none.
func (s *Store) GetGift(ctx context.Context, id uuid.UUID) (gift.Gift, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var g gift.Gift
	err := s.pool.QueryRow(ctx, `
		SELECT id, code, amount, message, status, last_error, created_at, updated_at
		FROM gifts WHERE id = $1`, id).
		Scan(&g.ID, &g.Code, &g.Amount, &g.Message, &g.Status, &g.LastError, &g.CreatedAt, &g.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return gift.Gift{}, gift.ErrNotFound
	}
	if err != nil {
		return gift.Gift{}, classify(fmt.Sprintf("read gift %s", id), err)
	}
	return g, nil
}

// Send accepts a send request exactly as docs/requirements.md §5.1.1 describe, in one transaction: lock the
// gift (SELECT ... FOR UPDATE), replay a known (gift, request id), re-check the status under the
// lock, then INSERT send_requests + UPDATE status=QUEUED + INSERT the outbox message. response is
// the body to store for replays; message is the queue message body; claim, when not zero, is the
// dispatcher's lease written with the outbox row (it publishes the row itself right after commit,
// and the relay leaves it alone until the lease ends).
func (s *Store) Send(ctx context.Context, req gift.SendRequest, response, message []byte, claim gift.OutboxClaim) (gift.SendOutcome, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var out gift.SendOutcome
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status gift.Status
		err := tx.QueryRow(ctx, `SELECT status FROM gifts WHERE id = $1 FOR UPDATE`, req.GiftID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return gift.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("lock gift: %w", err)
		}

		var stored []byte
		err = tx.QueryRow(ctx, `SELECT response_body FROM send_requests WHERE gift_id = $1 AND request_id = $2`,
			req.GiftID, req.RequestID).Scan(&stored)
		switch {
		case err == nil:
			out = gift.SendOutcome{Replayed: true, Response: stored}
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("look up send request: %w", err)
		}

		switch {
		case status.Terminal():
			return gift.ErrAlreadyTerminal
		case status == gift.StatusQueued:
			return gift.ErrQueuedByOtherKey
		case !status.CanTransition(gift.StatusQueued):
			return fmt.Errorf("gift in unexpected status %q", status)
		}

		if _, err := tx.Exec(ctx, `INSERT INTO send_requests (gift_id, request_id, force_failure, response_body) VALUES ($1, $2, $3, $4)`,
			req.GiftID, req.RequestID, req.ForceFailure, response); err != nil {
			return fmt.Errorf("insert send request: %w", err)
		}
		// The status change and its history entry in one statement.
		if _, err := tx.Exec(ctx, `
			WITH queued AS (UPDATE gifts SET status = $2, updated_at = now() WHERE id = $1 RETURNING id)
			INSERT INTO gift_events (gift_id, from_status, to_status, actor, request_id)
			SELECT id, $3, $2, $4, $5 FROM queued`,
			req.GiftID, gift.StatusQueued, status, gift.ActorAPI, req.RequestID); err != nil {
			return fmt.Errorf("queue gift: %w", err)
		}
		out.TraceContext = string(tracing.FromContext(ctx)) // the request's span, for the publisher
		if out.OutboxID, err = insertOutbox(ctx, tx, req.GiftID, req.RequestID, message, claim, out.TraceContext); err != nil {
			return err
		}
		out.Response = response
		return nil
	})
	if err != nil {
		if gift.KindOf(err) != 0 && !errors.Is(err, gift.ErrUnavailable) {
			return gift.SendOutcome{}, err
		}
		return gift.SendOutcome{}, classify(fmt.Sprintf("send gift %s", req.GiftID), err)
	}
	return out, nil
}
