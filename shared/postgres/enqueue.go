package postgres

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// insertOutbox writes a gift's queue message into the outbox inside tx, the transaction that
// queues the gift. With a claim (the API's send: the dispatcher publishes it right after commit)
// the row is written already leased to claim.Token until claim.Lease after this statement, so the
// relay leaves it alone until then; without one (giftctl's retry and reconcile) it is due at once.
// The lease starts at clock_timestamp(), not at the transaction's now(): the holder reads its own
// clock before the transaction, so its view of the end is never later than the database's. Every
// path that puts a gift on the queue goes through here. trace is the trace context to publish
// with the message (tracing.Carrier; "" for none).
func insertOutbox(ctx context.Context, tx pgx.Tx, giftID uuid.UUID, requestID string, message []byte, claim gift.OutboxClaim, trace string) (int64, error) {
	token := uuid.NullUUID{UUID: claim.Token, Valid: claim.Token != uuid.Nil}
	var id int64
	if err := tx.QueryRow(ctx, `
		INSERT INTO outbox_messages (gift_id, request_id, body, claim_token, available_at, trace_context)
		VALUES ($1, $2, $3, $4, clock_timestamp() + $5::interval, nullif($6, '')) RETURNING id`,
		giftID, requestID, string(message), token, claim.Lease, trace).Scan(&id); err != nil {
		return 0, fmt.Errorf("insert outbox message: %w", err)
	}
	return id, nil
}
