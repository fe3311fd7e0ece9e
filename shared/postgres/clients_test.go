package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

func newClient(t *testing.T, s *postgres.Store, name string) gift.Client {
	t.Helper()
	c, err := s.CreateClient(context.Background(), name, gift.DefaultRateLimit, "alice")
	if err != nil {
		t.Fatalf("create client %s: %v", name, err)
	}
	return c
}

func issue(t *testing.T, s *postgres.Store, client uuid.UUID, actor string) (string, gift.StoredKey) {
	t.Helper()
	text, k, err := s.IssueAPIKey(context.Background(), client, actor)
	if err != nil {
		t.Fatalf("issue a key: %v", err)
	}
	return text, k
}

// activeKeys counts the active keys of a client as the database holds them.
func activeKeys(t *testing.T, pool *pgxpool.Pool, client uuid.UUID) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM api_keys WHERE client_id = $1 AND revoked_at IS NULL`, client).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateClient(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	c, err := s.CreateClient(ctx, "shop-web", gift.RateLimit{PerSecond: 2.5, Burst: 10}, "alice")
	if err != nil || c.ID == uuid.Nil || c.Name != "shop-web" {
		t.Fatalf("create: %+v, %v", c, err)
	}
	got, err := s.ClientByName(ctx, "shop-web")
	if err != nil || got != c {
		t.Fatalf("read back %+v, %v; want %+v", got, err, c)
	}
	if _, err := s.CreateClient(ctx, "shop-web", gift.DefaultRateLimit, "bob"); !errors.Is(err, gift.ErrClientExists) {
		t.Fatalf("a second client named shop-web: %v, want ErrClientExists", err)
	}
	if _, err := s.ClientByName(ctx, "nobody"); !errors.Is(err, gift.ErrClientNotFound) {
		t.Fatalf("unknown client: %v, want ErrClientNotFound", err)
	}
	for _, tc := range []struct {
		name  string
		limit gift.RateLimit
	}{
		{"Upper", gift.DefaultRateLimit},
		{"-dash", gift.DefaultRateLimit},
		{strings.Repeat("a", 101), gift.DefaultRateLimit},
		{"zero-rate", gift.RateLimit{PerSecond: 0, Burst: 1}},
		{"zero-burst", gift.RateLimit{PerSecond: 1, Burst: 0}},
	} {
		if _, err := s.CreateClient(ctx, tc.name, tc.limit, "alice"); gift.KindOf(err) != gift.KindInvalid {
			t.Errorf("create %q with %+v: %v, want a KindInvalid error", tc.name, tc.limit, err)
		}
	}
	list, err := s.ListClients(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "legacy" || list[1].Name != "shop-web" ||
		list[1].CreatedBy != "alice" || list[1].Limit != (gift.RateLimit{PerSecond: 2.5, Burst: 10}) || list[1].ActiveKeys != 0 {
		t.Fatalf("list: %+v, %v; want legacy and shop-web", list, err)
	}
}

// A key is found by its id, matches its text and not another's, and the client comes with it.
func TestIssueAndLookUpAKey(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	c := newClient(t, s, "shop-web")
	text, k := issue(t, s, c.ID, "alice")
	parsed, err := apikey.Parse(text)
	if err != nil || parsed.ID != k.ID || k.Slot != 1 || k.CreatedBy != "alice" || k.CreatedAt.IsZero() {
		t.Fatalf("issued %q as %+v (%v)", text, k, err)
	}
	got, err := s.LookupAPIKey(ctx, k.ID)
	if err != nil || got.Client != c || !got.Active() || got.Slot != 1 {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	if !parsed.Matches(got.SecretHash) {
		t.Fatal("the key's text does not match the stored hash")
	}
	otherText, _, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := apikey.Parse(otherText)
	if other.Matches(got.SecretHash) {
		t.Fatal("another key matches the stored hash")
	}
	if _, err := s.LookupAPIKey(ctx, "0badf00d"); !errors.Is(err, gift.ErrKeyNotFound) {
		t.Fatalf("unknown key: %v, want ErrKeyNotFound", err)
	}
	if _, _, err := s.IssueAPIKey(ctx, uuid.New(), "alice"); !errors.Is(err, gift.ErrClientNotFound) {
		t.Fatalf("a key for an unknown client: %v, want ErrClientNotFound", err)
	}
}

// Two keys at most; revoking one frees its slot (rotation), and the revoked key stays readable as
// revoked.
func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	c := newClient(t, s, "shop-web")
	_, first := issue(t, s, c.ID, "alice")
	_, second := issue(t, s, c.ID, "alice")
	if second.Slot != 2 {
		t.Fatalf("second key in slot %d, want 2", second.Slot)
	}
	if _, _, err := s.IssueAPIKey(ctx, c.ID, "alice"); !errors.Is(err, gift.ErrTooManyKeys) {
		t.Fatalf("a third active key: %v, want ErrTooManyKeys", err)
	}
	revoked, err := s.RevokeAPIKey(ctx, first.ID, "bob")
	if err != nil || revoked.Active() || revoked.RevokedBy != "bob" || revoked.Client.ID != c.ID {
		t.Fatalf("revoke: %+v, %v", revoked, err)
	}
	again, err := s.RevokeAPIKey(ctx, first.ID, "carol")
	if err != nil || !again.RevokedAt.Equal(revoked.RevokedAt) || again.RevokedBy != "bob" {
		t.Fatalf("revoking a revoked key changed it: %+v, %v", again, err)
	}
	_, third := issue(t, s, c.ID, "alice")
	if third.Slot != first.Slot {
		t.Fatalf("the new key took slot %d, want the revoked key's %d", third.Slot, first.Slot)
	}
	if n := activeKeys(t, pool, c.ID); n != 2 {
		t.Fatalf("%d active keys, want 2", n)
	}
	if _, err := s.RevokeAPIKey(ctx, "0badf00d", "bob"); !errors.Is(err, gift.ErrKeyNotFound) {
		t.Fatalf("revoke of an unknown key: %v, want ErrKeyNotFound", err)
	}

	keys, err := s.ListAPIKeys(ctx, c.ID)
	if err != nil || len(keys) != 3 {
		t.Fatalf("list: %+v, %v", keys, err)
	}
	for i, want := range []string{third.ID, second.ID, first.ID} { // newest first
		if keys[i].ID != want || keys[i].SecretHash != nil || keys[i].Client != c {
			t.Fatalf("key %d: %+v, want id %s, no hash, the client", i, keys[i], want)
		}
	}
	if !keys[0].Active() || !keys[1].Active() || keys[2].Active() || keys[2].RevokedBy != "bob" {
		t.Fatalf("active and revoked: %+v", keys)
	}
	if _, err := s.ListAPIKeys(ctx, uuid.New()); !errors.Is(err, gift.ErrClientNotFound) {
		t.Fatalf("keys of an unknown client: %v, want ErrClientNotFound", err)
	}
	if list, err := s.ListClients(ctx); err != nil || list[1].ActiveKeys != 2 {
		t.Fatalf("list clients: %+v, %v; want 2 active keys", list, err)
	}
}

// Issues racing for the free slots: as many win as there are slots, the others are told the
// client has two keys, and the database never holds a third.
func TestConcurrentIssuesNeverGiveThreeActiveKeys(t *testing.T) {
	ctx := context.Background()
	const most = 10
	// A connection for each, opened beforehand, so the issues reach the database together.
	pool, err := postgres.OpenPool(ctx, postgres.PoolConfig{URL: env.NewDatabase(t), MaxConns: most, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	conns := make([]*pgxpool.Conn, most)
	for i := range conns {
		if conns[i], err = pool.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		c.Release()
	}
	s := postgres.NewStore(pool, 10*time.Second)
	for round, n := range []int{most, most, most} {
		c := newClient(t, s, fmt.Sprintf("racer-%d", round))
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, _, errs[i] = s.IssueAPIKey(ctx, c.ID, fmt.Sprintf("racer %d", i))
			}()
		}
		close(start)
		wg.Wait()
		issued := 0
		for _, err := range errs {
			switch {
			case err == nil:
				issued++
			case !errors.Is(err, gift.ErrTooManyKeys):
				t.Errorf("round %d: %v, want success or ErrTooManyKeys", round, err)
			}
		}
		if active := activeKeys(t, pool, c.ID); issued != gift.MaxActiveKeys || active != gift.MaxActiveKeys {
			t.Fatalf("round %d, %d issues at once: %d issued, %d active; want %d and %d", round, n, issued, active,
				gift.MaxActiveKeys, gift.MaxActiveKeys)
		}
	}
}

// Two issues for a client without keys that both see slot 1 free (a third, uncommitted, holds
// it while they start) both get a key once it goes away: the loser of slot 1 takes slot 2.
func TestTwoIssuesRacingForOneSlotBothGetAKey(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	c := newClient(t, s, "shop-web")
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback(ctx) }()
	if _, err := holder.Exec(ctx, `INSERT INTO api_keys (id, client_id, secret_hash, slot, created_by)
		VALUES ('00000000', $1, sha256(''), 1, 'holder')`, c.ID); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for i := range 2 {
		go func() { _, _, err := s.IssueAPIKey(ctx, c.ID, fmt.Sprintf("racer %d", i)); errs <- err }()
	}
	testenv.Eventually(t, 10*time.Second, "both issues waiting on slot 1", func() (bool, string) {
		var waiting int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO api_keys%'`).Scan(&waiting)
		return err == nil && waiting == 2, fmt.Sprintf("%d waiting (%v)", waiting, err)
	})
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("issue: %v; want a key for both", err)
		}
	}
	if n := activeKeys(t, pool, c.ID); n != 2 {
		t.Fatalf("%d active keys, want 2", n)
	}
}

func TestSetClientLimits(t *testing.T) {
	ctx := context.Background()
	_, s := env.NewStore(t)
	c := newClient(t, s, "shop-web")
	before, err := s.SetClientLimits(ctx, c.ID, gift.RateLimit{PerSecond: 0.5, Burst: 3}, "bob")
	if err != nil || before.Limit != gift.DefaultRateLimit {
		t.Fatalf("set limits: %+v, %v; want the old limit back", before, err)
	}
	if got, _ := s.ClientByName(ctx, "shop-web"); got.Limit != (gift.RateLimit{PerSecond: 0.5, Burst: 3}) {
		t.Fatalf("limit after the change: %+v", got.Limit)
	}
	if _, err := s.SetClientLimits(ctx, uuid.New(), gift.DefaultRateLimit, "bob"); !errors.Is(err, gift.ErrClientNotFound) {
		t.Fatalf("limits of an unknown client: %v, want ErrClientNotFound", err)
	}
	if _, err := s.SetClientLimits(ctx, c.ID, gift.RateLimit{PerSecond: -1, Burst: 3}, "bob"); gift.KindOf(err) != gift.KindInvalid {
		t.Fatalf("a negative rate: %v, want KindInvalid", err)
	}
	if got, _ := s.ClientByName(ctx, "shop-web"); got.Limit != (gift.RateLimit{PerSecond: 0.5, Burst: 3}) {
		t.Fatalf("a refused change changed the limit: %+v", got.Limit)
	}
}

// Every change is in the client's audit with who made it, in order; nobody rewrites it.
func TestClientAudit(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	c, err := s.CreateClient(ctx, "shop-web", gift.RateLimit{PerSecond: 5, Burst: 10}, "alice <os:alice>")
	if err != nil {
		t.Fatal(err)
	}
	_, k := issue(t, s, c.ID, "alice <os:alice>")
	if _, err := s.SetClientLimits(ctx, c.ID, gift.RateLimit{PerSecond: 20, Burst: 40}, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeAPIKey(ctx, k.ID, "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeAPIKey(ctx, k.ID, "dave"); err != nil { // changes nothing: no entry
		t.Fatal(err)
	}
	// A refused change writes nothing either.
	if _, err := s.SetClientLimits(ctx, c.ID, gift.RateLimit{PerSecond: 1, Burst: 0}, "eve"); err == nil {
		t.Fatal("a burst of 0 was accepted")
	}
	events, err := s.ClientEvents(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []gift.ClientEvent{
		{Action: gift.ClientCreated, Actor: "alice <os:alice>", Detail: "rate_per_second=5 burst=10"},
		{Action: gift.KeyIssued, Actor: "alice <os:alice>", KeyID: k.ID},
		{Action: gift.LimitsChanged, Actor: "bob", Detail: "rate_per_second=20 burst=40 (was rate_per_second=5 burst=10)"},
		{Action: gift.KeyRevoked, Actor: "carol", KeyID: k.ID},
	}
	if len(events) != len(want) {
		t.Fatalf("audit: %+v; want %d entries", events, len(want))
	}
	for i, w := range want {
		e := events[i]
		if e.Action != w.Action || e.Actor != w.Actor || e.KeyID != w.KeyID || e.Detail != w.Detail || e.ClientID != c.ID || e.At.IsZero() {
			t.Errorf("entry %d: %+v, want %+v", i, e, w)
		}
	}
	if _, err := s.ClientEvents(ctx, uuid.New()); !errors.Is(err, gift.ErrClientNotFound) {
		t.Fatalf("audit of an unknown client: %v, want ErrClientNotFound", err)
	}
	for _, sql := range []string{`UPDATE api_client_events SET actor = 'nobody'`, `DELETE FROM api_client_events`} {
		if _, err := pool.Exec(ctx, sql); err == nil {
			t.Errorf("%s succeeded as the owner; want the append-only trigger to refuse it", sql)
		}
	}
}

// Only the hash of a key's secret is stored: neither the key's text nor its secret appears in any
// column of any table.
func TestTheKeyItselfIsStoredNowhere(t *testing.T) {
	ctx := context.Background()
	pool, s := env.NewStore(t)
	c := newClient(t, s, "shop-web")
	text, k := issue(t, s, c.ID, "alice")
	if _, err := s.RevokeAPIKey(ctx, k.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	issue(t, s, c.ID, "alice")
	secret := strings.TrimPrefix(text, "gk_"+k.ID+"_")
	if len(secret) != 43 {
		t.Fatalf("secret %q of %q", secret, text)
	}
	// Every row of every table, as text: bytea columns come out hex-encoded, so the secret's
	// bytes are looked for hex-encoded as well.
	rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if rows.Err() != nil || len(tables) < 5 {
		t.Fatalf("tables %v, %v", tables, rows.Err())
	}
	hexSecret := fmt.Sprintf("%x", secret)
	for _, table := range tables {
		var dump string
		if err := pool.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(string_agg(t::text, E'\n'), '') FROM %q t`, table)).Scan(&dump); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		if table == "api_keys" && !strings.Contains(dump, k.ID) {
			t.Fatalf("api_keys does not hold key %s: the search would see nothing\n%s", k.ID, dump)
		}
		for _, leak := range []string{secret, strings.ToLower(hexSecret)} {
			if strings.Contains(dump, leak) {
				t.Errorf("table %s holds the key's secret", table)
			}
		}
	}
}
