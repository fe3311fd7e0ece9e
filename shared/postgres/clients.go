package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// API clients and their keys (migration 0007). The API reads keys (LookupAPIKey); giftctl
// administers clients and keys, each change recorded in api_client_events with its actor.

// LookupAPIKey reads the key with public id id and its client; gift.ErrKeyNotFound when there is
// none. A revoked key is returned with RevokedAt set: the caller decides.
func (s *Store) LookupAPIKey(ctx context.Context, id string) (gift.StoredKey, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var (
		k         gift.StoredKey
		revokedAt *time.Time
		revokedBy *string
	)
	err := s.pool.QueryRow(ctx, `
		SELECT k.id, k.secret_hash, k.slot, k.created_at, k.created_by, k.revoked_at, k.revoked_by,
		       c.id, c.name, c.rate_per_second, c.burst
		FROM api_keys k JOIN api_clients c ON c.id = k.client_id WHERE k.id = $1`, id).
		Scan(&k.ID, &k.SecretHash, &k.Slot, &k.CreatedAt, &k.CreatedBy, &revokedAt, &revokedBy,
			&k.Client.ID, &k.Client.Name, &k.Client.Limit.PerSecond, &k.Client.Limit.Burst)
	if errors.Is(err, pgx.ErrNoRows) {
		return gift.StoredKey{}, gift.ErrKeyNotFound
	}
	if err != nil {
		return gift.StoredKey{}, classify("read API key", err)
	}
	if revokedAt != nil {
		k.RevokedAt, k.RevokedBy = *revokedAt, *revokedBy
	}
	return k, nil
}

// CreateClient adds a client named name with limit; gift.ErrClientExists when the name is taken.
func (s *Store) CreateClient(ctx context.Context, name string, limit gift.RateLimit, actor string) (gift.Client, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	id, err := uuid.NewV7()
	if err != nil {
		return gift.Client{}, fmt.Errorf("generate client id: %w", err)
	}
	_, err = s.pool.Exec(ctx, `
		WITH created AS (
			INSERT INTO api_clients (id, name, rate_per_second, burst, created_by) VALUES ($1, $2, $3, $4, $5)
			RETURNING id)
		INSERT INTO api_client_events (client_id, action, detail, actor)
		SELECT id, 'client.create', $6, $5 FROM created`,
		id, name, limit.PerSecond, limit.Burst, actor, limitDetail(limit))
	if isUniqueViolation(err) {
		return gift.Client{}, gift.ErrClientExists
	}
	if err != nil {
		return gift.Client{}, classify(fmt.Sprintf("create client %q", name), err)
	}
	return gift.Client{ID: id, Name: name, Limit: limit}, nil
}

// ClientByName reads a client; gift.ErrClientNotFound when there is none.
func (s *Store) ClientByName(ctx context.Context, name string) (gift.Client, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var c gift.Client
	err := s.pool.QueryRow(ctx, `SELECT id, name, rate_per_second, burst FROM api_clients WHERE name = $1`, name).
		Scan(&c.ID, &c.Name, &c.Limit.PerSecond, &c.Limit.Burst)
	if errors.Is(err, pgx.ErrNoRows) {
		return gift.Client{}, gift.ErrClientNotFound
	}
	if err != nil {
		return gift.Client{}, classify(fmt.Sprintf("read client %q", name), err)
	}
	return c, nil
}

// IssueAPIKey makes a key for client clientID and stores its hash in a free slot. It returns the
// key's text, which is shown once and never stored, and the stored key. gift.ErrTooManyKeys when
// the client has gift.MaxActiveKeys active keys.
func (s *Store) IssueAPIKey(ctx context.Context, clientID uuid.UUID, actor string) (string, gift.StoredKey, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	text, key, err := apikey.New()
	if err != nil {
		return "", gift.StoredKey{}, err
	}
	hash := key.Hash()
	stored := gift.StoredKey{ID: key.ID, SecretHash: hash[:], CreatedBy: actor}
	// The free slot is picked and taken in one statement; a concurrent issue that takes the same
	// slot fails on the unique index of active slots, and the caller may try again.
	err = s.pool.QueryRow(ctx, `
		WITH slot AS (
			SELECT s FROM generate_series(1, $5::int) s
			WHERE NOT EXISTS (SELECT 1 FROM api_keys WHERE client_id = $2 AND slot = s AND revoked_at IS NULL)
			ORDER BY s LIMIT 1),
		issued AS (
			INSERT INTO api_keys (id, client_id, secret_hash, slot, created_by)
			SELECT $1, $2, $3, s, $4 FROM slot
			RETURNING id, client_id, slot, created_at),
		logged AS (
			INSERT INTO api_client_events (client_id, key_id, action, actor)
			SELECT client_id, id, 'key.issue', $4 FROM issued)
		SELECT slot, created_at FROM issued`,
		key.ID, clientID, hash[:], actor, gift.MaxActiveKeys).Scan(&stored.Slot, &stored.CreatedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, cerr := s.clientByID(ctx, clientID); cerr != nil {
			return "", gift.StoredKey{}, cerr
		}
		return "", gift.StoredKey{}, gift.ErrTooManyKeys
	case isForeignKeyViolation(err):
		return "", gift.StoredKey{}, gift.ErrClientNotFound
	case isUniqueViolation(err):
		return "", gift.StoredKey{}, gift.ErrTooManyKeys
	case err != nil:
		return "", gift.StoredKey{}, classify("issue API key", err)
	}
	stored.Client.ID = clientID
	return text, stored, nil
}

// RevokeAPIKey revokes the key with public id id; revoking a revoked key changes nothing and is
// not an error. gift.ErrKeyNotFound when there is no such key.
func (s *Store) RevokeAPIKey(ctx context.Context, id, actor string) (gift.StoredKey, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `
		WITH revoked AS (
			UPDATE api_keys SET revoked_at = now(), revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL
			RETURNING id, client_id)
		INSERT INTO api_client_events (client_id, key_id, action, actor)
		SELECT client_id, id, 'key.revoke', $2 FROM revoked`, id, actor)
	if err != nil {
		return gift.StoredKey{}, classify("revoke API key "+id, err)
	}
	return s.LookupAPIKey(ctx, id)
}

func (s *Store) clientByID(ctx context.Context, id uuid.UUID) (gift.Client, error) {
	var c gift.Client
	err := s.pool.QueryRow(ctx, `SELECT id, name, rate_per_second, burst FROM api_clients WHERE id = $1`, id).
		Scan(&c.ID, &c.Name, &c.Limit.PerSecond, &c.Limit.Burst)
	if errors.Is(err, pgx.ErrNoRows) {
		return gift.Client{}, gift.ErrClientNotFound
	}
	if err != nil {
		return gift.Client{}, classify("read client "+id.String(), err)
	}
	return c, nil
}

func limitDetail(l gift.RateLimit) string {
	return fmt.Sprintf("rate_per_second=%g burst=%d", l.PerSecond, l.Burst)
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
