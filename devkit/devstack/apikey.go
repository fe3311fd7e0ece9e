package devstack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
)

// LocalRateLimit is the token bucket of the clients the local tools make: high enough that no
// load tool, drill or soak is throttled by it on one machine (production's default is 50/s).
var LocalRateLimit = gift.RateLimit{PerSecond: 100000, Burst: 100000}

// IssueAPIKey makes client name (or takes it when it exists) and issues it a key, connected as
// adminURL (the migration user); the key's text is what a caller sends as "Authorization: Bearer
// <key>". A client with two active keys already has its oldest revoked first, so a local stack
// restarted again and again keeps working. actor is recorded with the change.
func IssueAPIKey(ctx context.Context, adminURL, name, actor string) (string, error) {
	pool, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to issue an API key: %w", err)
	}
	defer pool.Close()
	store := postgres.NewStore(pool, 10*time.Second)
	client, err := store.CreateClient(ctx, name, LocalRateLimit, actor)
	if errors.Is(err, gift.ErrClientExists) {
		client, err = store.ClientByName(ctx, name)
	}
	if err != nil {
		return "", err
	}
	text, _, err := store.IssueAPIKey(ctx, client.ID, actor)
	if errors.Is(err, gift.ErrTooManyKeys) {
		if err := revokeOldestKey(ctx, store, client, actor); err != nil {
			return "", err
		}
		text, _, err = store.IssueAPIKey(ctx, client.ID, actor)
	}
	if err != nil {
		return "", fmt.Errorf("issue an API key for client %s: %w", name, err)
	}
	return text, nil
}

func revokeOldestKey(ctx context.Context, store *postgres.Store, client gift.Client, actor string) error {
	keys, err := store.ListAPIKeys(ctx, client.ID) // newest first
	if err != nil {
		return err
	}
	for _, k := range slices.Backward(keys) {
		if k.Active() {
			_, err := store.RevokeAPIKey(ctx, k.ID, actor)
			return err
		}
	}
	return nil
}

// IssueAPIKey issues a key of client name on the stack's database (IssueAPIKey).
func (d *Deps) IssueAPIKey(ctx context.Context, name string) (string, error) {
	return IssueAPIKey(ctx, d.databaseURL, name, "devstack")
}
