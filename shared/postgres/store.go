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
			INSERT INTO gifts (id, client_id, code, amount, message, status, created_at, updated_at)
			VALUES ($1, $9, $2, $3, $4, $5, $6, $7)
			RETURNING id, status, created_at)
		INSERT INTO gift_events (gift_id, to_status, actor, at)
		SELECT id, status, $8, created_at FROM created`,
		g.ID, g.Code, g.Amount, g.Message, g.Status, g.CreatedAt, g.UpdatedAt, gift.ActorAPI, ownerOf(g))
	return classify(fmt.Sprintf("insert gift %s", g.ID), err)
}

// GetGift reads one gift, whoever owns it (operators, the worker); gift.ErrNotFound when there is
// none.
func (s *Store) GetGift(ctx context.Context, id uuid.UUID) (gift.Gift, error) {
	return s.getGift(ctx, uuid.Nil, id)
}

// GetClientGift reads one gift of client clientID; gift.ErrNotFound when there is none or another
// client owns it (a client cannot learn that another's gift exists).
func (s *Store) GetClientGift(ctx context.Context, clientID, id uuid.UUID) (gift.Gift, error) {
	return s.getGift(ctx, clientID, id)
}

func (s *Store) getGift(ctx context.Context, clientID, id uuid.UUID) (gift.Gift, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var g gift.Gift
	err := s.pool.QueryRow(ctx, `
		SELECT `+giftColumns+` FROM gifts WHERE id = $1 AND ($2::uuid IS NULL OR client_id = $2)`,
		id, nullID(clientID)).
		Scan(&g.ID, &g.ClientID, &g.Code, &g.Amount, &g.Message, &g.Status, &g.LastError, &g.CreatedAt, &g.UpdatedAt)
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
		err := tx.QueryRow(ctx, `SELECT status FROM gifts WHERE id = $1 AND ($2::uuid IS NULL OR client_id = $2) FOR UPDATE`,
			req.GiftID, nullID(req.ClientID)).Scan(&status)
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

// giftColumns are the columns a gift.Gift is scanned from, in its fields' order.
const giftColumns = `id, client_id, code, amount, message, status, last_error, created_at, updated_at`

// ownerOf is the client a new gift is stored under: its own, or the legacy client when it has none.
func ownerOf(g gift.Gift) uuid.UUID {
	if g.ClientID == uuid.Nil {
		return gift.LegacyClientID
	}
	return g.ClientID
}

// nullID is id as a query parameter, NULL for uuid.Nil ("any client").
func nullID(id uuid.UUID) uuid.NullUUID { return uuid.NullUUID{UUID: id, Valid: id != uuid.Nil} }

// ListGifts reads a page of a client's gifts, newest first (gift.ListQuery). It reads one row
// more than the page to tell whether another page follows. The walk goes down the client's
// (client_id, id) index; the filters are applied along it.
func (s *Store) ListGifts(ctx context.Context, q gift.ListQuery) (gift.Page, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var (
		before          = nullID(q.Before)
		status          *string
		since, notAfter *time.Time
	)
	if q.Status != "" {
		st := string(q.Status)
		status = &st
	}
	if !q.CreatedSince.IsZero() {
		since = &q.CreatedSince
	}
	if !q.CreatedBefore.IsZero() {
		notAfter = &q.CreatedBefore
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+giftColumns+` FROM gifts
		WHERE client_id = $1
		  AND ($2::uuid IS NULL OR id < $2)
		  AND ($3::varchar IS NULL OR status = $3)
		  AND ($4::timestamptz IS NULL OR created_at >= $4)
		  AND ($5::timestamptz IS NULL OR created_at < $5)
		ORDER BY id DESC LIMIT $6`,
		q.ClientID, before, status, since, notAfter, q.Limit+1)
	if err != nil {
		return gift.Page{}, classify("list gifts", err)
	}
	gifts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (gift.Gift, error) {
		var g gift.Gift
		err := row.Scan(&g.ID, &g.ClientID, &g.Code, &g.Amount, &g.Message, &g.Status, &g.LastError, &g.CreatedAt, &g.UpdatedAt)
		return g, err
	})
	if err != nil {
		return gift.Page{}, classify("list gifts", err)
	}
	page := gift.Page{Gifts: gifts}
	if len(gifts) > q.Limit {
		page.Gifts, page.More = gifts[:q.Limit], true
	}
	return page, nil
}
