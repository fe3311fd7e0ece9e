package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
)

// A database that goes away is reported as gift.ErrUnavailable (503, worker pause), and the same
// pool works again once it is back, without a restart.
func TestOutageIsUnavailableAndRecovers(t *testing.T) {
	ctx := context.Background()
	pg, err := servers.StartPostgres(ctx, servers.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	pool, err := postgres.OpenPool(ctx, postgres.PoolConfig{URL: pg.URL, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := postgres.NewStore(pool, 2*time.Second)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping while up: %v", err)
	}

	pg.Kill()
	for _, call := range []func() error{
		func() error { return s.Ping(ctx) },
		func() error { _, err := s.GetGift(ctx, uuid.New()); return err },
		func() error { _, err := s.SendState(ctx, uuid.New(), "k"); return err },
	} {
		if err := call(); !errors.Is(err, gift.ErrUnavailable) {
			t.Fatalf("while down: got %v, want ErrUnavailable", err)
		}
	}

	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}
