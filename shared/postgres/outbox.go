package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// The outbox relay's side of the store. No call holds a transaction open beyond its own statement:
// rows are leased (claim_token, available_at) rather than locked while SQS is called, so a slow or
// failing SQS never meets a database deadline (migration 0002, docs/architecture.md).

// ClaimOutbox leases up to limit due messages (available_at <= now(), oldest due first) to a new
// claim token for lease (from clock_timestamp(), as the dispatcher's claim: insertOutbox): one statement, whose FOR UPDATE SKIP LOCKED lets several relays claim at
// once without taking the same row. Until the lease ends no other relay claims them. It returns
// the token and the messages in the order they fell due; no messages and a zero token when nothing is due.
func (s *Store) ClaimOutbox(ctx context.Context, limit int, lease time.Duration) (uuid.UUID, []gift.OutboxMessage, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	token, err := uuid.NewRandom()
	if err != nil {
		return uuid.Nil, nil, fmt.Errorf("claim outbox messages: new token: %w", err)
	}
	rows, err := s.pool.Query(ctx, `
		WITH due AS (
			SELECT id, available_at FROM outbox_messages
			WHERE available_at <= now()
			ORDER BY available_at
			LIMIT $1
			FOR UPDATE SKIP LOCKED)
		UPDATE outbox_messages o SET claim_token = $2, available_at = clock_timestamp() + $3::interval
		FROM due WHERE o.id = due.id
		RETURNING o.id, o.body, o.created_at, o.attempts, coalesce(o.trace_context, ''), due.available_at`, limit, token, lease)
	if err != nil {
		return uuid.Nil, nil, classify("claim outbox messages", err)
	}
	type due struct {
		msg gift.OutboxMessage
		at  time.Time
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
		var d due
		return d, r.Scan(&d.msg.ID, &d.msg.Body, &d.msg.CreatedAt, &d.msg.Attempts, &d.msg.TraceContext, &d.at)
	})
	if err != nil {
		return uuid.Nil, nil, classify("claim outbox messages", err)
	}
	if len(claimed) == 0 {
		return uuid.Nil, nil, nil
	}
	// In the order they fell due (RETURNING has none), so the relay tries first what has waited
	// longest, and a message that just failed goes after those it has not tried yet.
	slices.SortFunc(claimed, func(a, b due) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.msg.ID, b.msg.ID)) })
	msgs := make([]gift.OutboxMessage, len(claimed))
	for i, d := range claimed {
		msgs[i] = d.msg
	}
	return token, msgs, nil
}

// DeleteOutbox removes messages SQS has accepted while they still carry the claim token that
// published them, and returns how many it removed. A row whose lease ended and that another
// claim holds by now is left to that claim: a late delete (its deadline passed, the server ran it
// anyway) can never pull a row from under the publisher that holds it. The dispatcher and the
// relay delete by this one rule.
func (s *Store) DeleteOutbox(ctx context.Context, token uuid.UUID, ids ...int64) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM outbox_messages WHERE id = ANY($2) AND claim_token = $1`, token, ids)
	if err != nil {
		return 0, classify(fmt.Sprintf("delete %d outbox messages", len(ids)), err)
	}
	return tag.RowsAffected(), nil
}

// RetryOutbox ends the claim token's lease on messages SQS did not accept: each records one more
// attempt and its error and becomes due again after its own delay. Messages another claim holds
// by now (the lease ran out) are left alone.
func (s *Store) RetryOutbox(ctx context.Context, token uuid.UUID, retries []gift.OutboxRetry) error {
	if len(retries) == 0 {
		return nil
	}
	ids := make([]int64, len(retries))
	delays := make([]int64, len(retries))
	errs := make([]string, len(retries))
	for i, r := range retries {
		ids[i], delays[i], errs[i] = r.ID, r.Delay.Milliseconds(), r.Err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `
		UPDATE outbox_messages o
		SET attempts = o.attempts + 1, last_error = r.err, claim_token = NULL,
		    available_at = now() + r.delay_ms * interval '1 millisecond'
		FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS r(id, delay_ms, err)
		WHERE o.id = r.id AND o.claim_token = $1`, token, ids, delays, errs)
	return classify(fmt.Sprintf("record %d failed outbox attempts", len(retries)), err)
}

// ReleaseOutbox ends the claim token's lease on messages the relay did not try (shutdown, or the
// lease was running out): they are due again at once, with no attempt recorded.
func (s *Store) ReleaseOutbox(ctx context.Context, token uuid.UUID, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `
		UPDATE outbox_messages SET claim_token = NULL, available_at = now()
		WHERE id = ANY($2) AND claim_token = $1`, token, ids)
	return classify(fmt.Sprintf("release %d outbox messages", len(ids)), err)
}

// OutboxBacklog reads the size and age of the outbox, for metrics and ops tools.
func (s *Store) OutboxBacklog(ctx context.Context) (gift.OutboxBacklog, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var b gift.OutboxBacklog
	var ageSeconds float64
	err := s.pool.QueryRow(ctx, `
		SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
		FROM outbox_messages`).Scan(&b.Pending, &ageSeconds)
	if err != nil {
		return gift.OutboxBacklog{}, classify("read outbox backlog", err)
	}
	b.OldestAge = time.Duration(ageSeconds * float64(time.Second))
	return b, nil
}
