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

// CreateClient adds a client named name with limit; gift.ErrClientExists when the name is taken,
// a gift.KindInvalid error when the name or the limit breaks the rules (gift.ValidateClientName,
// gift.RateLimit.Validate).
func (s *Store) CreateClient(ctx context.Context, name string, limit gift.RateLimit, actor string) (gift.Client, error) {
	if err := gift.ValidateClientName(name); err != nil {
		return gift.Client{}, err
	}
	if err := limit.Validate(); err != nil {
		return gift.Client{}, err
	}
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
	return s.client(ctx, "name", name)
}

// IssueAPIKey makes a key for client clientID and stores its hash in a free slot. It returns the
// key's text, which is shown once and never stored, and the stored key. gift.ErrTooManyKeys when
// the client has gift.MaxActiveKeys active keys, gift.ErrClientNotFound when there is no such
// client.
func (s *Store) IssueAPIKey(ctx context.Context, clientID uuid.UUID, actor string) (string, gift.StoredKey, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	// A slot taken by a concurrent issue between this statement's snapshot and its insert fails
	// on the unique index of active slots: try again, which then sees the slot taken and picks the
	// other or finds none. Each such failure means a slot was filled, so MaxActiveKeys+1 tries
	// suffice. A new key's id that is already some key's (8 hex digits) also tries again.
	for try := 1; ; try++ {
		text, stored, err := s.issueAPIKey(ctx, clientID, actor)
		switch {
		case (errors.Is(err, errSlotTaken) || errors.Is(err, errKeyIDTaken)) && try <= gift.MaxActiveKeys+1:
			continue
		case errors.Is(err, errSlotTaken):
			return "", gift.StoredKey{}, gift.ErrTooManyKeys
		case errors.Is(err, errKeyIDTaken):
			return "", gift.StoredKey{}, fmt.Errorf("issue an API key for client %s: %w %d times", clientID, err, try)
		}
		return text, stored, err
	}
}

var (
	errSlotTaken  = errors.New("a concurrent issue took the slot")
	errKeyIDTaken = errors.New("the new key's id is taken")
)

func (s *Store) issueAPIKey(ctx context.Context, clientID uuid.UUID, actor string) (string, gift.StoredKey, error) {
	text, key, err := apikey.New()
	if err != nil {
		return "", gift.StoredKey{}, err
	}
	hash := key.Hash()
	stored := gift.StoredKey{ID: key.ID, SecretHash: hash[:], CreatedBy: actor}
	// The free slot is picked and taken in one statement, with its audit row.
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
		if _, cerr := s.client(ctx, "id", clientID); cerr != nil {
			return "", gift.StoredKey{}, cerr
		}
		return "", gift.StoredKey{}, gift.ErrTooManyKeys
	case isForeignKeyViolation(err):
		return "", gift.StoredKey{}, gift.ErrClientNotFound
	case isUniqueViolation(err) && constraint(err) == "api_keys_active_slot_idx":
		return "", gift.StoredKey{}, errSlotTaken
	case isUniqueViolation(err) && constraint(err) == "api_keys_pkey":
		return "", gift.StoredKey{}, errKeyIDTaken
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

// client reads the client whose column (id or name) is value, under the caller's deadline.
func (s *Store) client(ctx context.Context, column string, value any) (gift.Client, error) {
	var c gift.Client
	err := s.pool.QueryRow(ctx, `SELECT id, name, rate_per_second, burst FROM api_clients WHERE `+column+` = $1`, value).
		Scan(&c.ID, &c.Name, &c.Limit.PerSecond, &c.Limit.Burst)
	if errors.Is(err, pgx.ErrNoRows) {
		return gift.Client{}, gift.ErrClientNotFound
	}
	if err != nil {
		return gift.Client{}, classify(fmt.Sprintf("read client %s %v", column, value), err)
	}
	return c, nil
}

// ListClients reads every client, by name, with when and by whom it was created and how many
// keys it has active.
func (s *Store) ListClients(ctx context.Context) ([]gift.ClientSummary, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `
		SELECT c.id, c.name, c.rate_per_second, c.burst, c.created_at, c.created_by,
		       (SELECT count(*) FROM api_keys k WHERE k.client_id = c.id AND k.revoked_at IS NULL)
		FROM api_clients c ORDER BY c.name`)
	if err != nil {
		return nil, classify("list clients", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (gift.ClientSummary, error) {
		var c gift.ClientSummary
		err := row.Scan(&c.ID, &c.Name, &c.Limit.PerSecond, &c.Limit.Burst, &c.CreatedAt, &c.CreatedBy, &c.ActiveKeys)
		return c, err
	})
	if err != nil {
		return nil, classify("list clients", err)
	}
	return list, nil
}

// ListAPIKeys reads the keys of client clientID, active and revoked, newest first. The hash of a
// key's secret is not read: SecretHash stays nil. gift.ErrClientNotFound when there is no such
// client.
func (s *Store) ListAPIKeys(ctx context.Context, clientID uuid.UUID) ([]gift.StoredKey, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	client, err := s.client(ctx, "id", clientID)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, slot, created_at, created_by, revoked_at, revoked_by FROM api_keys
		WHERE client_id = $1 ORDER BY created_at DESC, id`, clientID)
	if err != nil {
		return nil, classify("list the keys of client "+client.Name, err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (gift.StoredKey, error) {
		k := gift.StoredKey{Client: client}
		var (
			revokedAt *time.Time
			revokedBy *string
		)
		if err := row.Scan(&k.ID, &k.Slot, &k.CreatedAt, &k.CreatedBy, &revokedAt, &revokedBy); err != nil {
			return k, err
		}
		if revokedAt != nil {
			k.RevokedAt, k.RevokedBy = *revokedAt, *revokedBy
		}
		return k, nil
	})
	if err != nil {
		return nil, classify("list the keys of client "+client.Name, err)
	}
	return keys, nil
}

// SetClientLimits sets the token bucket of client clientID and returns the client as it was
// before; the audit row (client.limits) says the old and the new limit. gift.ErrClientNotFound
// when there is no such client; a gift.KindInvalid error when limit breaks the rules.
func (s *Store) SetClientLimits(ctx context.Context, clientID uuid.UUID, limit gift.RateLimit, actor string) (gift.Client, error) {
	if err := limit.Validate(); err != nil {
		return gift.Client{}, err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var before gift.Client
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The row is locked while read, so the old limit in the audit is the one replaced.
		err := tx.QueryRow(ctx, `SELECT id, name, rate_per_second, burst FROM api_clients WHERE id = $1 FOR UPDATE`, clientID).
			Scan(&before.ID, &before.Name, &before.Limit.PerSecond, &before.Limit.Burst)
		if errors.Is(err, pgx.ErrNoRows) {
			return gift.ErrClientNotFound
		}
		if err != nil {
			return classify("read client "+clientID.String(), err)
		}
		_, err = tx.Exec(ctx, `
			WITH changed AS (
				UPDATE api_clients SET rate_per_second = $2, burst = $3 WHERE id = $1 RETURNING id)
			INSERT INTO api_client_events (client_id, action, detail, actor)
			SELECT id, 'client.limits', $4, $5 FROM changed`,
			clientID, limit.PerSecond, limit.Burst, limitDetail(limit)+" (was "+limitDetail(before.Limit)+")", actor)
		if err != nil {
			return classify("set the limits of client "+before.Name, err)
		}
		return nil
	})
	if err != nil {
		return gift.Client{}, err
	}
	return before, nil
}

// ClientEvents reads the audit of client clientID, oldest first: its creation, limit changes, and
// the keys issued and revoked, each with who did it. gift.ErrClientNotFound when there is no such
// client.
func (s *Store) ClientEvents(ctx context.Context, clientID uuid.UUID) ([]gift.ClientEvent, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if _, err := s.client(ctx, "id", clientID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, client_id, coalesce(key_id::text, ''), action, coalesce(detail, ''), actor, at
		FROM api_client_events WHERE client_id = $1 ORDER BY id`, clientID)
	if err != nil {
		return nil, classify("read the audit of client "+clientID.String(), err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (gift.ClientEvent, error) {
		var e gift.ClientEvent
		err := row.Scan(&e.ID, &e.ClientID, &e.KeyID, &e.Action, &e.Detail, &e.Actor, &e.At)
		return e, err
	})
	if err != nil {
		return nil, classify("read the audit of client "+clientID.String(), err)
	}
	return events, nil
}

func limitDetail(l gift.RateLimit) string {
	return fmt.Sprintf("rate_per_second=%g burst=%d", l.PerSecond, l.Burst)
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// constraint is the name of the constraint or index a statement violated, "" for other errors.
func constraint(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	return ""
}

func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
