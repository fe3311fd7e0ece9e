package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutboxMessage is a queue message accepted by the API and not yet confirmed by SQS.
type OutboxMessage struct {
	ID        int64
	Body      string
	CreatedAt time.Time
	Attempts  int
	// TraceContext is the trace context of the request that accepted the send (tracing.Carrier;
	// "" for none), to publish with the message.
	TraceContext string
}

// DeleteOutbox removes a message SQS has accepted.
func (s *Store) DeleteOutbox(ctx context.Context, id int64) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `DELETE FROM outbox_messages WHERE id = $1`, id)
	return classify(fmt.Sprintf("delete outbox message %d", id), err)
}

// PublishResult says, for each claimed message, whether SQS accepted it; Failed holds the error of
// each message that was not accepted.
type PublishResult struct {
	Published []int64
	Failed    map[int64]error
}

// RelayOutbox claims up to limit messages that are due (oldest first) with FOR UPDATE SKIP LOCKED,
// so several API tasks can relay at once without sending the same row twice, hands them to
// publish, then deletes what was published and records an attempt on the rest, all in one
// transaction. It returns how many it claimed and how many were published. The transaction (and
// its row locks) lasts as long as publish; publish must honour ctx.
func (s *Store) RelayOutbox(ctx context.Context, limit int, publish func(context.Context, []OutboxMessage) PublishResult) (claimed, published int, err error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT id, body, created_at, attempts, coalesce(trace_context, '') FROM outbox_messages
			WHERE available_at <= now()
			ORDER BY id LIMIT $1
			FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return fmt.Errorf("claim outbox messages: %w", err)
		}
		msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxMessage, error) {
			var m OutboxMessage
			return m, r.Scan(&m.ID, &m.Body, &m.CreatedAt, &m.Attempts, &m.TraceContext)
		})
		if err != nil {
			return fmt.Errorf("read outbox messages: %w", err)
		}
		claimed = len(msgs)
		if claimed == 0 {
			return nil
		}
		res := publish(ctx, msgs)
		if len(res.Published) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM outbox_messages WHERE id = ANY($1)`, res.Published); err != nil {
				return fmt.Errorf("delete published outbox messages: %w", err)
			}
		}
		for id, perr := range res.Failed {
			if _, err := tx.Exec(ctx, `UPDATE outbox_messages SET attempts = attempts + 1, last_error = $2 WHERE id = $1`,
				id, perr.Error()); err != nil {
				return fmt.Errorf("record failed outbox attempt: %w", err)
			}
		}
		published = len(res.Published)
		return nil
	})
	if err != nil {
		return 0, 0, classify("relay outbox", err)
	}
	return claimed, published, nil
}

// OutboxBacklog is how far SQS is behind the API: sends accepted and not yet on the queue.
type OutboxBacklog struct {
	Pending   int64
	OldestAge time.Duration // zero when Pending is zero
}

// OutboxBacklog reads the size and age of the outbox, for metrics and ops tools.
func (s *Store) OutboxBacklog(ctx context.Context) (OutboxBacklog, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var b OutboxBacklog
	var ageSeconds float64
	err := s.pool.QueryRow(ctx, `
		SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
		FROM outbox_messages`).Scan(&b.Pending, &ageSeconds)
	if err != nil {
		return OutboxBacklog{}, classify("read outbox backlog", err)
	}
	b.OldestAge = time.Duration(ageSeconds * float64(time.Second))
	return b, nil
}
