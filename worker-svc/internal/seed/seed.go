// Package seed puts QUEUED gifts in the database and their send messages on the queue, as the API
// would, for the worker's tests and its benchmark. Nothing in the running worker uses it.
package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

// Store is the part of the gift store the seeder uses (shared/postgres.Store).
type Store interface {
	CreateGift(ctx context.Context, g gift.Gift) error
	Send(ctx context.Context, req gift.SendRequest, response, message []byte, claim gift.OutboxClaim) (gift.SendOutcome, error)
}

// Publisher puts message bodies on the send queue in batches of up to queue.MaxBatch, reporting
// per message nil or why it was not accepted (shared/sqs.Publisher).
type Publisher interface {
	PublishBatch(ctx context.Context, bodies []string) []error
}

// Send is one accepted send request: its gift is QUEUED and Body is its queue message.
type Send struct {
	GiftID    uuid.UUID
	RequestID string
	Body      string
}

// Queued creates a gift and accepts a send request for it (the API's transaction, outbox row
// included), returning the message the API would publish.
func Queued(ctx context.Context, store Store, force bool) (Send, error) {
	g, err := gift.New(uuid.Nil, gift.NewGift{Amount: 1000}, time.Now())
	if err != nil {
		return Send{}, err
	}
	if err := store.CreateGift(ctx, g); err != nil {
		return Send{}, err
	}
	s := Send{GiftID: g.ID, RequestID: "req-" + uuid.NewString()}
	body, err := queue.Message{GiftID: g.ID, RequestID: s.RequestID, ForceFailure: force, AcceptedAt: time.Now().UTC()}.Marshal()
	if err != nil {
		return Send{}, err
	}
	s.Body = string(body)
	response := fmt.Appendf(nil, `{"gift_id":%q,"status":"QUEUED","request_id":%q}`, g.ID, s.RequestID)
	req := gift.SendRequest{GiftID: g.ID, RequestID: s.RequestID, ForceFailure: force}
	// Held by a claim nobody publishes under: the seeder puts the messages on the queue itself.
	if _, err := store.Send(ctx, req, response, body, gift.OutboxClaim{Token: uuid.New(), Lease: time.Hour}); err != nil {
		return Send{}, err
	}
	return s, nil
}

// Publish puts the messages of sends on the queue, in batches of ten.
func Publish(ctx context.Context, p Publisher, sends ...Send) error {
	for start := 0; start < len(sends); start += queue.MaxBatch {
		batch := sends[start:min(start+queue.MaxBatch, len(sends))]
		bodies := make([]string, len(batch))
		for i, s := range batch {
			bodies[i] = s.Body
		}
		for i, err := range p.PublishBatch(ctx, bodies) {
			if err != nil {
				return fmt.Errorf("publish message of gift %s: %w", batch[i].GiftID, err)
			}
		}
	}
	return nil
}

// Statuses counts the gifts by status.
func Statuses(ctx context.Context, pool *pgxpool.Pool) (map[gift.Status]int, error) {
	rows, err := pool.Query(ctx, `SELECT status, count(*) FROM gifts GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count gifts by status: %w", err)
	}
	defer rows.Close()
	out := map[gift.Status]int{}
	for rows.Next() {
		var s gift.Status
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count gifts by status: %w", err)
		}
		out[s] = n
	}
	return out, rows.Err()
}
