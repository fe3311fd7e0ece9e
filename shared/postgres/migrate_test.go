package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
)

func TestMigrateIsIdempotentAndSafeConcurrently(t *testing.T) {
	ctx := context.Background()
	url := env.NewDatabase(t) // already migrated from the template
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Back to an empty database, whatever the migrations created.
	if _, err := pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	applied := make([]int, 3)
	for i := range applied {
		wg.Go(func() {
			n, err := postgres.Migrate(ctx, pool, log)
			if err != nil {
				t.Error(err)
			}
			applied[i] = n
		})
	}
	wg.Wait()
	if total := applied[0] + applied[1] + applied[2]; total != len(ms) {
		t.Fatalf("three concurrent runs applied %v migrations, want %d in all", applied, len(ms))
	}
	if n, err := postgres.Migrate(ctx, pool, log); n != 0 || err != nil {
		t.Fatalf("re-run applied %d (%v), want 0", n, err)
	}
}
