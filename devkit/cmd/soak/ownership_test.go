package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{Postgres: true}, &env) }

// The ownership audit: every gift the load created is its creator's in the database, and the
// other client's read of it is 404; a gift stored under the other client, a gift missing from the
// database and a read that leaks are each a violation.
func TestOwnershipAudit(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, env.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := postgres.NewStore(pool, 5*time.Second)
	s := &stack{db: pool}
	for _, name := range []string{"soak-a", "soak-b"} {
		c, err := store.CreateClient(ctx, name, gift.RateLimit{PerSecond: 10, Burst: 10}, "test")
		if err != nil {
			t.Fatal(err)
		}
		s.clients = append(s.clients, soakClient{name: name, id: c.ID, key: "key-" + name})
	}
	// Three gifts: two of a, one of b.
	var ids []uuid.UUID
	for _, owner := range []int{0, 0, 1} {
		g, err := gift.New(s.clients[owner].id, gift.NewGift{Amount: 1000}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := store.CreateGift(ctx, g); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, g.ID)
	}
	audit := func(t *testing.T, leak bool, owner map[uuid.UUID]int) ([]string, []string) {
		t.Helper()
		api := &fakeAPI{keys: s.keys(), leak: leak, owner: map[string]string{}}
		for id, c := range owner {
			api.owner[id.String()] = s.clients[c].key
		}
		srv := httptest.NewServer(api)
		defer srv.Close()
		l, err := newLoad(loadConfig{concurrency: 2}, []string{strings.TrimPrefix(srv.URL, "http://")}, s.keys())
		if err != nil {
			t.Fatal(err)
		}
		l.owner = owner
		details, violations, err := s.ownership(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		return details, violations
	}
	contains := func(lines []string, part string) bool {
		for _, l := range lines {
			if strings.Contains(l, part) {
				return true
			}
		}
		return false
	}

	t.Run("every gift its creator's and hidden from the other", func(t *testing.T) {
		details, violations := audit(t, false, map[uuid.UUID]int{ids[0]: 0, ids[1]: 0, ids[2]: 1})
		if len(violations) > 0 || !contains(details, "3 gifts of 2 clients; in the database 0 with another owner; read by the other client: 3 answered 404, 0 did not") {
			t.Fatalf("details %q, violations %q", details, violations)
		}
	})
	t.Run("a gift stored under the other client", func(t *testing.T) {
		_, violations := audit(t, false, map[uuid.UUID]int{ids[0]: 0, ids[1]: 0, ids[2]: 0})
		if len(violations) != 1 || !contains(violations, ids[2].String()+" created by soak-a belongs to client "+s.clients[1].id.String()) {
			t.Fatalf("violations %q", violations)
		}
	})
	t.Run("a gift missing from the database", func(t *testing.T) {
		missing := uuid.New()
		_, violations := audit(t, false, map[uuid.UUID]int{ids[0]: 0, missing: 1})
		if len(violations) != 1 || !contains(violations, missing.String()+" created by soak-b is not in the database") {
			t.Fatalf("violations %q", violations)
		}
	})
	t.Run("reads that leak", func(t *testing.T) {
		details, violations := audit(t, true, map[uuid.UUID]int{ids[0]: 0, ids[1]: 0, ids[2]: 1})
		if len(violations) != 3 || !contains(violations, "soak-a read gift "+ids[2].String()+" of soak-b: 200 with the gift, want 404") ||
			!contains(details, "0 answered 404, 3 did not") {
			t.Fatalf("details %q, violations %q", details, violations)
		}
	})
}
