package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// insertOutbox writes a gift's queue message into the outbox inside tx, the transaction that
// queues the gift; the relay may publish it once relayDelay has passed. Every path that puts a
// gift on the queue goes through here: the API's send, giftctl's retry and reconcile. trace is the
// trace context to publish with the message (tracing.Carrier; "" for none).
func insertOutbox(ctx context.Context, tx pgx.Tx, giftID uuid.UUID, requestID string, message []byte, relayDelay time.Duration, trace string) (int64, error) {
	var id int64
	if err := tx.QueryRow(ctx, `
		INSERT INTO outbox_messages (gift_id, request_id, body, available_at, trace_context)
		VALUES ($1, $2, $3, now() + $4::interval, nullif($5, '')) RETURNING id`,
		giftID, requestID, string(message), relayDelay, trace).Scan(&id); err != nil {
		return 0, fmt.Errorf("insert outbox message: %w", err)
	}
	return id, nil
}
