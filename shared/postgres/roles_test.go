package postgres_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// The database roles (roles/grants.sql): each login role runs, through the real store, what its
// program runs, and is refused (SQLSTATE 42501, insufficient_privilege) what it must not do.

// roleDB is one test database seen by the superuser (setup) and by role.
type roleDB struct {
	admin     *postgres.Store
	adminPool *pgxpool.Pool
	pool      *pgxpool.Pool // connected as the role
	store     *postgres.Store
}

func newRoleDB(t *testing.T, role string) roleDB {
	t.Helper()
	url := env.NewDatabase(t)
	adminPool, admin := openStore(t, url)
	pool, store := openStore(t, env.RoleURL(t, url, role))
	var user string
	if err := pool.QueryRow(context.Background(), `SELECT current_user`).Scan(&user); err != nil || user != role {
		t.Fatalf("connected as %q (%v), want %s", user, err, role)
	}
	return roleDB{admin: admin, adminPool: adminPool, pool: pool, store: store}
}

func openStore(t *testing.T, url string) (*pgxpool.Pool, *postgres.Store) {
	t.Helper()
	pool, err := postgres.OpenPool(context.Background(), postgres.PoolConfig{URL: url, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, postgres.NewStore(pool, 10*time.Second)
}

// mustRefuse runs each statement as the role and wants it refused for lack of privilege.
func (db roleDB) mustRefuse(t *testing.T, statements ...string) {
	t.Helper()
	for _, sql := range statements {
		_, err := db.pool.Exec(context.Background(), sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s: %v; want it refused with SQLSTATE 42501", sql, err)
		}
	}
}

// What no login role may do: change the schema, rewrite or empty the history.
var refusedToEveryRole = []string{
	`CREATE TABLE intruder (id int)`,
	`DROP TABLE dlq_settled`,
	`ALTER TABLE gifts ADD COLUMN intruder int`,
	`CREATE INDEX intruder ON gifts (amount)`,
	`UPDATE gift_events SET reason = 'rewritten'`,
	`DELETE FROM gift_events`,
	`TRUNCATE gift_events`,
	`TRUNCATE gifts CASCADE`,
	`SELECT * FROM schema_migrations`,
	`DELETE FROM gifts`,
	`UPDATE gifts SET amount = 1`,
	`UPDATE create_requests SET response_body = ''`,
}

// What neither service may do to clients, keys and their audit: only giftctl administers them.
var refusedToAPIAndWorker = []string{
	`INSERT INTO api_clients (id, name, created_by) VALUES (gen_random_uuid(), 'intruder', 'x')`,
	`UPDATE api_clients SET rate_per_second = 1000000`,
	`UPDATE api_clients SET burst = 1000000`,
	`DELETE FROM api_clients`,
	`INSERT INTO api_keys (id, client_id, secret_hash, slot, created_by) SELECT '0badf00d', id, sha256(''), 1, 'x' FROM api_clients`,
	`UPDATE api_keys SET revoked_at = NULL, revoked_by = NULL`,
	`UPDATE api_keys SET secret_hash = sha256('x')`,
	`DELETE FROM api_keys`,
	`SELECT * FROM api_client_events`,
	`INSERT INTO api_client_events (client_id, action, actor) SELECT id, 'client.create', 'x' FROM api_clients`,
}

// refusedByStore wants the store call refused for lack of privilege.
func refusedByStore(t *testing.T, what string, call func() error) {
	t.Helper()
	var pgErr *pgconn.PgError
	if err := call(); !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("%s: %v; want it refused with SQLSTATE 42501", what, err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// queuedGift creates a gift and accepts a send for it as the API does, with the superuser.
func queuedGift(t *testing.T, s *postgres.Store, force bool) (gift.Gift, []byte) {
	t.Helper()
	g := newGift(t, s, nil)
	msg, err := queue.Message{GiftID: g.ID, RequestID: "k", ForceFailure: force}.Marshal()
	must(t, "marshal", err)
	_, err = s.Send(context.Background(), gift.SendRequest{GiftID: g.ID, RequestID: "k", ForceFailure: force}, []byte(`{}`), msg,
		gift.OutboxClaim{Token: uuid.New(), Lease: time.Hour})
	must(t, "send", err)
	return g, msg
}

func TestRoleAPI(t *testing.T) {
	ctx := context.Background()
	db := newRoleDB(t, testenv.RoleAPI)
	s := db.store

	must(t, "ping", s.Ping(ctx))
	g := newGift(t, s, nil)
	if got, err := s.GetGift(ctx, g.ID); err != nil || got.Status != gift.StatusCreated {
		t.Fatalf("get gift: %+v, %v", got, err)
	}
	if _, first, err := createOnce(t, s, "c1", 100); err != nil || first.Replayed {
		t.Fatalf("create with a key: %+v, %v", first, err)
	}
	if _, again, err := createOnce(t, s, "c1", 100); err != nil || !again.Replayed {
		t.Fatalf("replayed create: %+v, %v", again, err)
	}
	if n, err := s.PruneCreateRequests(ctx, 0, 10); err != nil || n != 1 {
		t.Fatalf("prune create keys: %d, %v; want 1", n, err)
	}
	if _, err := send(t, s, g.ID, "k1"); err != nil {
		t.Fatalf("send: %v", err)
	}
	if out, err := send(t, s, g.ID, "k1"); err != nil || !out.Replayed {
		t.Fatalf("replayed send: %+v, %v", out, err)
	}
	g2 := newGift(t, s, nil)
	msg := []byte(`{}`)
	out, err := s.Send(ctx, gift.SendRequest{GiftID: g2.ID, RequestID: "k2"}, msg, msg, gift.OutboxClaim{}) // due at once
	must(t, "send without a claim", err)
	token, msgs, err := s.ClaimOutbox(ctx, 10, time.Minute)
	if err != nil || len(msgs) != 1 || msgs[0].ID != out.OutboxID {
		t.Fatalf("claim: %v %v", msgs, err)
	}
	must(t, "retry outbox", s.RetryOutbox(ctx, token, []gift.OutboxRetry{{ID: out.OutboxID, Delay: 0, Err: "boom"}}))
	token, msgs, err = s.ClaimOutbox(ctx, 10, time.Minute)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("claim again: %v %v", msgs, err)
	}
	must(t, "release outbox", s.ReleaseOutbox(ctx, token, []int64{out.OutboxID}))
	token, _, err = s.ClaimOutbox(ctx, 10, time.Minute)
	must(t, "claim a third time", err)
	if n, err := s.DeleteOutbox(ctx, token, out.OutboxID); err != nil || n != 1 {
		t.Fatalf("delete outbox: %d, %v", n, err)
	}
	if b, err := s.OutboxBacklog(ctx); err != nil || b.Pending != 1 { // k1's row, still leased
		t.Fatalf("outbox backlog: %+v, %v", b, err)
	}

	// The key check of every request: a key and its client, read only.
	client, err := db.admin.CreateClient(ctx, "shop-web", gift.DefaultRateLimit, "alice")
	must(t, "create a client", err)
	_, key, err := db.admin.IssueAPIKey(ctx, client.ID, "alice")
	must(t, "issue a key", err)
	if k, err := s.LookupAPIKey(ctx, key.ID); err != nil || k.Client != client || len(k.SecretHash) != 32 {
		t.Fatalf("lookup API key: %+v, %v", k, err)
	}
	refusedByStore(t, "create a client", func() error {
		_, err := s.CreateClient(ctx, "intruder", gift.DefaultRateLimit, "api")
		return err
	})
	refusedByStore(t, "issue a key", func() error { _, _, err := s.IssueAPIKey(ctx, client.ID, "api"); return err })
	refusedByStore(t, "revoke a key", func() error { _, err := s.RevokeAPIKey(ctx, key.ID, "api"); return err })
	refusedByStore(t, "set limits", func() error {
		_, err := s.SetClientLimits(ctx, client.ID, gift.RateLimit{PerSecond: 1e6, Burst: 1e6}, "api")
		return err
	})

	db.mustRefuse(t, refusedToEveryRole...)
	db.mustRefuse(t, refusedToAPIAndWorker...)
	db.mustRefuse(t,
		`SELECT * FROM gift_events`,
		`SELECT * FROM dlq_settled`,
		`INSERT INTO dlq_settled (message_id, outcome) VALUES ('m', 'failed')`,
		`UPDATE send_requests SET retries = 7`,
		`DELETE FROM send_requests`,
		`UPDATE gifts SET last_error = 'x'`,
		`UPDATE outbox_messages SET body = 'x'`,
	)
}

func TestRoleWorker(t *testing.T) {
	ctx := context.Background()
	db := newRoleDB(t, testenv.RoleWorker)
	s := db.store
	series := func(id uuid.UUID) gift.Series { return current(t, db.admin, id) }

	sent, _ := queuedGift(t, db.admin, false)
	if st, err := s.SendState(ctx, sent.ID, "k"); err != nil || !st.RequestExists || st.Status != gift.StatusQueued {
		t.Fatalf("send state: %+v, %v", st, err)
	}
	a, ok, err := s.BeginAttempt(ctx, series(sent.ID), uuid.New(), 5, time.Minute)
	if err != nil || !ok {
		t.Fatalf("begin attempt: %v %v", ok, err)
	}
	if ok, err := s.RenewAttempt(ctx, a, time.Minute); err != nil || !ok {
		t.Fatalf("renew attempt: %v %v", ok, err)
	}
	must(t, "end attempt", s.EndAttempt(ctx, a))
	if ok, err := s.MarkSent(ctx, series(sent.ID)); err != nil || !ok {
		t.Fatalf("mark sent: %v %v", ok, err)
	}
	failed, _ := queuedGift(t, db.admin, true)
	if ok, err := s.MarkFailed(ctx, series(failed.ID), "boom"); err != nil || !ok {
		t.Fatalf("mark failed: %v %v", ok, err)
	}

	// The DLQ reconciler: one gift's attempts all ran (FAILED), another's message went round (queued
	// again through the outbox).
	exhausted, exhaustedMsg := queuedGift(t, db.admin, false)
	for range 5 {
		if _, ok, err := s.BeginAttempt(ctx, series(exhausted.ID), uuid.New(), 5, 0); err != nil || !ok {
			t.Fatalf("begin attempt: %v %v", ok, err)
		}
	}
	wentRound, wentRoundMsg := queuedGift(t, db.admin, false)
	_, err = db.adminPool.Exec(ctx, `DELETE FROM outbox_messages WHERE gift_id = $1`, wentRound.ID)
	must(t, "empty the outbox", err)
	if o, err := s.SettleDLQMessage(ctx, "m1", string(exhaustedMsg), 5); err != nil || o != gift.SettledFailed {
		t.Fatalf("settle an exhausted gift's message: %q, %v", o, err)
	}
	if o, err := s.SettleDLQMessage(ctx, "m2", string(wentRoundMsg), 5); err != nil || o != gift.SettledRequeued {
		t.Fatalf("settle a message that went round: %q, %v", o, err)
	}
	if o, err := s.SettleDLQMessage(ctx, "m3", "not json", 5); err != nil || o != gift.SettledInvalid {
		t.Fatalf("settle an invalid message: %q, %v", o, err)
	}
	if got, err := s.DLQSettled(ctx, []string{"m1", "m2", "m3"}); err != nil || len(got) != 3 {
		t.Fatalf("settled: %v, %v", got, err)
	}
	if _, err := s.PruneDLQSettled(ctx, 0); err != nil {
		t.Fatalf("prune: %v", err)
	}

	db.mustRefuse(t, refusedToEveryRole...)
	db.mustRefuse(t, refusedToAPIAndWorker...)
	db.mustRefuse(t,
		`SELECT * FROM api_keys`,
		`SELECT secret_hash FROM api_keys`,
		`SELECT * FROM api_clients`,
		`SELECT * FROM api_client_events`,
		`SELECT * FROM gift_events`,
		`SELECT * FROM create_requests`,
		`SELECT body FROM outbox_messages`,
		`INSERT INTO gifts (id, code, amount) VALUES (gen_random_uuid(), 'c', 1)`,
		`INSERT INTO send_requests (gift_id, request_id, response_body) SELECT id, 'x', '' FROM gifts LIMIT 1`,
		`UPDATE send_requests SET retries = retries + 1`,
		`DELETE FROM outbox_messages`,
		`UPDATE outbox_messages SET available_at = now()`,
	)
}

func TestRoleOperator(t *testing.T) {
	ctx := context.Background()
	db := newRoleDB(t, testenv.RoleOperator)
	s := db.store

	failed, _ := queuedGift(t, db.admin, true)
	_, err := db.admin.MarkFailed(ctx, current(t, db.admin, failed.ID), "boom")
	must(t, "mark failed", err)
	if d, err := s.Delivery(ctx, failed.ID); err != nil || d.Status != gift.StatusFailed {
		t.Fatalf("delivery: %+v, %v", d, err)
	}
	if r, err := s.RetryFailed(ctx, failed.ID, "alice", "fixed"); err != nil || r.Series != 1 {
		t.Fatalf("retry: %+v, %v", r, err)
	}
	if h, err := s.History(ctx, failed.ID); err != nil || len(h) != 4 {
		t.Fatalf("history: %+v, %v", h, err)
	}

	orphan, _ := queuedGift(t, db.admin, false)
	_, err = db.adminPool.Exec(ctx, `DELETE FROM outbox_messages WHERE gift_id = $1`, orphan.ID)
	must(t, "lose the outbox row", err)
	if orphans, err := s.QueuedWithoutOutbox(ctx, 0, 10); err != nil || len(orphans) != 1 || orphans[0].GiftID != orphan.ID {
		t.Fatalf("queued without outbox: %+v, %v", orphans, err)
	}
	if _, err := s.Reenqueue(ctx, orphan.ID, "alice", "lost"); err != nil {
		t.Fatalf("re-enqueue: %v", err)
	}

	dead, deadMsg := queuedGift(t, db.admin, true)
	m, err := queue.Parse(deadMsg)
	must(t, "parse", err)
	if r, err := s.Redrive(ctx, m, "alice", "moved back"); err != nil || r.Series != 1 {
		t.Fatalf("redrive %s: %+v, %v", dead.ID, r, err)
	}
	if _, err := s.DLQSettled(ctx, []string{"m1"}); err != nil {
		t.Fatalf("settled: %v", err)
	}
	if o, err := s.Overview(ctx, time.Minute); err != nil || o.ByStatus[gift.StatusQueued] != 3 {
		t.Fatalf("overview: %+v, %v", o, err)
	}
	if _, err := s.OutboxBacklog(ctx); err != nil {
		t.Fatalf("outbox backlog: %v", err)
	}

	// Clients and keys (giftctl client, giftctl key), each change in the audit.
	client, err := s.CreateClient(ctx, "shop-web", gift.DefaultRateLimit, "alice")
	must(t, "create a client", err)
	if c, err := s.ClientByName(ctx, "shop-web"); err != nil || c != client {
		t.Fatalf("client by name: %+v, %v", c, err)
	}
	if list, err := s.ListClients(ctx); err != nil || len(list) != 2 {
		t.Fatalf("list clients: %+v, %v", list, err)
	}
	_, err = s.SetClientLimits(ctx, client.ID, gift.RateLimit{PerSecond: 5, Burst: 5}, "alice")
	must(t, "set limits", err)
	_, key, err := s.IssueAPIKey(ctx, client.ID, "alice")
	must(t, "issue a key", err)
	if k, err := s.LookupAPIKey(ctx, key.ID); err != nil || !k.Active() {
		t.Fatalf("lookup API key: %+v, %v", k, err)
	}
	if keys, err := s.ListAPIKeys(ctx, client.ID); err != nil || len(keys) != 1 {
		t.Fatalf("list keys: %+v, %v", keys, err)
	}
	if k, err := s.RevokeAPIKey(ctx, key.ID, "alice"); err != nil || k.Active() {
		t.Fatalf("revoke: %+v, %v", k, err)
	}
	if events, err := s.ClientEvents(ctx, client.ID); err != nil || len(events) != 4 {
		t.Fatalf("client audit: %+v, %v", events, err)
	}

	db.mustRefuse(t, refusedToEveryRole...)
	db.mustRefuse(t,
		`UPDATE api_keys SET secret_hash = sha256('x')`,
		`UPDATE api_keys SET client_id = client_id`,
		`DELETE FROM api_keys`,
		`UPDATE api_clients SET name = 'renamed'`,
		`DELETE FROM api_clients`,
		`UPDATE api_client_events SET actor = 'someone else'`,
		`DELETE FROM api_client_events`,
		`SELECT * FROM create_requests`,
		`INSERT INTO gifts (id, code, amount) VALUES (gen_random_uuid(), 'c', 1)`,
		`INSERT INTO send_requests (gift_id, request_id, response_body) SELECT id, 'x', '' FROM gifts LIMIT 1`,
		`INSERT INTO dlq_settled (message_id, outcome) VALUES ('m', 'failed')`,
		`DELETE FROM dlq_settled`,
		`UPDATE outbox_messages SET available_at = now()`,
		`UPDATE send_requests SET response_body = ''`,
	)
}

// The owner refuses TRUNCATE of the history too (a trigger): the privilege is only the first wall.
func TestTheHistoryCannotBeTruncatedEvenByItsOwner(t *testing.T) {
	pool, _ := env.NewStore(t)
	_, err := pool.Exec(context.Background(), `TRUNCATE gift_events`)
	if err == nil {
		t.Fatal("TRUNCATE gift_events as the superuser succeeded; want the append-only trigger to refuse it")
	}
}

// The grants are the whole truth: a privilege given by hand (or by an earlier version of the file)
// is gone after the next migrate run.
func TestMigrateTakesBackPrivilegesNotListed(t *testing.T) {
	ctx := context.Background()
	db := newRoleDB(t, testenv.RoleAPI)
	for _, sql := range []string{
		`GRANT UPDATE, DELETE, TRUNCATE ON gift_events TO gift_api`,
		`GRANT UPDATE (amount) ON gifts TO gift_api`,
		`GRANT ALL ON dlq_settled TO PUBLIC`,
	} {
		if _, err := db.adminPool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := postgres.Migrate(ctx, db.adminPool, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	db.mustRefuse(t, `UPDATE gift_events SET reason = 'x'`, `TRUNCATE gift_events`, `UPDATE gifts SET amount = 1`,
		`SELECT * FROM dlq_settled`)
}
