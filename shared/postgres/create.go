package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// CreateGiftOnce creates g unless its client stored key already (docs/architecture.md, "Decision:
// idempotent create"). The key row (with response, the body of the 201 to replay), the gift and
// its first history entry are written by one statement, so one transaction. When the key is
// taken: the same fingerprint replays the first create (its gift id and stored body), another
// fingerprint is gift.ErrIdempotencyKeyReused. A concurrent create with the same key waits on the
// key's unique index until the first commits (then replays) or rolls back (then creates).
func (s *Store) CreateGiftOnce(ctx context.Context, g gift.Gift, key gift.CreateKey, response []byte) (gift.CreateOutcome, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	// Two rounds at most: the stored key can be pruned between the insert that found it and the
	// read of it, and then the second insert wins.
	for range 2 {
		tag, err := s.pool.Exec(ctx, `
			WITH claimed AS (
				INSERT INTO create_requests (client_id, idempotency_key, fingerprint, gift_id, response_body)
				VALUES ($12, $9, $10, $1, $11)
				ON CONFLICT (client_id, idempotency_key) DO NOTHING
				RETURNING gift_id),
			created AS (
				INSERT INTO gifts (id, client_id, code, amount, message, status, created_at, updated_at)
				SELECT $1, $12, $2, $3, $4, $5, $6, $7 FROM claimed
				RETURNING id, status, created_at)
			INSERT INTO gift_events (gift_id, to_status, actor, at)
			SELECT id, status, $8, created_at FROM created`,
			g.ID, g.Code, g.Amount, g.Message, g.Status, g.CreatedAt, g.UpdatedAt, gift.ActorAPI,
			key.Key, key.Fingerprint[:], response, ownerOf(g))
		if err != nil {
			return gift.CreateOutcome{}, classify(fmt.Sprintf("insert gift %s under its idempotency key", g.ID), err)
		}
		if tag.RowsAffected() == 1 {
			return gift.CreateOutcome{GiftID: g.ID, Response: response}, nil
		}
		var (
			fingerprint []byte
			out         = gift.CreateOutcome{Replayed: true}
		)
		err = s.pool.QueryRow(ctx, `SELECT fingerprint, gift_id, response_body FROM create_requests WHERE client_id = $1 AND idempotency_key = $2`,
			ownerOf(g), key.Key).Scan(&fingerprint, &out.GiftID, &out.Response)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // pruned in between: try again
		}
		if err != nil {
			return gift.CreateOutcome{}, classify("read stored create request", err)
		}
		if !bytes.Equal(fingerprint, key.Fingerprint[:]) {
			return gift.CreateOutcome{}, gift.ErrIdempotencyKeyReused
		}
		return out, nil
	}
	return gift.CreateOutcome{}, fmt.Errorf("create gift %s: idempotency key taken and pruned twice", g.ID)
}

// PruneCreateRequests deletes at most limit create requests older than retention (by the
// database's clock), oldest first, and returns how many it deleted. Two pruners may pick the same
// rows: the second waits for the first and deletes fewer (harmless). No FOR UPDATE SKIP LOCKED:
// it would need the UPDATE privilege, and the API needs only SELECT, INSERT and DELETE here.
func (s *Store) PruneCreateRequests(ctx context.Context, retention time.Duration, limit int) (int64, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM create_requests WHERE idempotency_key IN (
			SELECT idempotency_key FROM create_requests
			WHERE created_at < now() - $1::bigint * interval '1 microsecond'
			ORDER BY created_at LIMIT $2)`,
		retention.Microseconds(), limit)
	if err != nil {
		return 0, classify("prune create requests", err)
	}
	return tag.RowsAffected(), nil
}
