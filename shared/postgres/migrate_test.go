package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
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

// Roles belong to the cluster, and the migration's advisory lock to one database: a migration
// that creates a role while another database's migration is creating the same one waits for it,
// then finds it taken, and must run again rather than fail. The other migration is played by a
// transaction held open until the migration waits for it.
func TestAMigrationRacingAnotherDatabasesForTheRolesSucceeds(t *testing.T) {
	ctx := context.Background()
	pg, err := servers.StartPostgres(ctx, servers.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	admin, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE racer"); err != nil {
		t.Fatal(err)
	}
	other, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Rollback(ctx) }()
	for _, role := range []string{"gift_owner", "gift_api", "gift_worker", "gift_operator"} {
		if _, err := other.Exec(ctx, "CREATE ROLE "+role); err != nil {
			t.Fatal(err)
		}
	}

	done := make(chan error, 1)
	go func() { done <- testenv.MigrateURL(ctx, strings.Replace(pg.URL, "/postgres?", "/racer?", 1)) }()
	watcher, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(ctx)
	testenv.Eventually(t, 30*time.Second, "the migration waiting for the other transaction's roles", func() (bool, string) {
		var waiting int
		err := watcher.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = 'racer' AND wait_event_type = 'Lock'`).Scan(&waiting)
		return err == nil && waiting > 0, fmt.Sprintf("%d waiting (%v)", waiting, err)
	})
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the migration that lost the race: %v", err)
	}
}
