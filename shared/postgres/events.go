package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// insertEvent appends e to its gift's history inside tx, the transaction that changes the status;
// a zero e.At means the transaction's time.
func insertEvent(ctx context.Context, tx pgx.Tx, e gift.Event) error {
	var at *time.Time
	if !e.At.IsZero() {
		at = &e.At
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO gift_events (gift_id, from_status, to_status, actor, actor_name, reason, request_id, at)
		VALUES ($1, NULLIF($2, ''), $3, $4, NULLIF($5, ''), NULLIF($6, ''), NULLIF($7, ''), coalesce($8, now()))`,
		e.GiftID, string(e.From), e.To, e.Actor, e.ActorName, e.Reason, e.RequestID, at)
	if err != nil {
		return fmt.Errorf("record %s -> %s of gift %s: %w", e.From, e.To, e.GiftID, err)
	}
	return nil
}

// History returns a gift's events, oldest first; gift.ErrNotFound when there is no such gift.
func (s *Store) History(ctx context.Context, giftID uuid.UUID) ([]gift.Event, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `
		SELECT e.id, e.gift_id, coalesce(e.from_status, ''), e.to_status, e.actor, coalesce(e.actor_name, ''),
		       coalesce(e.reason, ''), coalesce(e.request_id, ''), e.at
		FROM gifts g LEFT JOIN gift_events e ON e.gift_id = g.id
		WHERE g.id = $1 ORDER BY e.id`, giftID)
	if err != nil {
		return nil, classify(fmt.Sprintf("read history of gift %s", giftID), err)
	}
	type row struct {
		id                                     *int64
		giftID                                 *uuid.UUID
		from, to, actor, name, reason, request *string
		at                                     *time.Time
	}
	var events []gift.Event
	found := false
	for rows.Next() {
		found = true
		var r row
		if err := rows.Scan(&r.id, &r.giftID, &r.from, &r.to, &r.actor, &r.name, &r.reason, &r.request, &r.at); err != nil {
			rows.Close()
			return nil, classify(fmt.Sprintf("read history of gift %s", giftID), err)
		}
		if r.id == nil { // the gift, without any event (created before the history existed)
			continue
		}
		events = append(events, gift.Event{ID: *r.id, GiftID: *r.giftID, From: gift.Status(*r.from), To: gift.Status(*r.to),
			Actor: gift.Actor(*r.actor), ActorName: *r.name, Reason: *r.reason, RequestID: *r.request, At: *r.at})
	}
	if err := rows.Err(); err != nil {
		return nil, classify(fmt.Sprintf("read history of gift %s", giftID), err)
	}
	if !found {
		return nil, gift.ErrNotFound
	}
	return events, nil
}
