// Package testenv gives tests the real dependencies: a PostgreSQL server (a throwaway cluster from
// the installed binaries, or the server at $DATABASE_URL) with one freshly migrated database per
// test, and the SQS emulator with one queue pair per test. A test binary starts them once in
// TestMain; tests stay isolated by database and by queue name.
package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
)

// Needs says which dependencies a test binary uses.
type Needs struct {
	Postgres bool
	SQS      bool
}

// Env is the running dependencies of one test binary.
type Env struct {
	adminURL    string
	template    string
	pg          *servers.Postgres
	emu         *servers.SQSEmulator
	SQSEndpoint string
	seq         atomic.Int64
	rolesMu     sync.Mutex
	rolesReady  map[string]bool // login roles whose password RoleURL has set
}

// Main starts what needs asks for, runs the tests, stops everything and exits. Use it as
//
//	var env *testenv.Env
//	func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{Postgres: true}, &env) }
func Main(m *testing.M, needs Needs, env **Env) {
	e, err := start(needs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		e.stop()
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	e.stop()
	os.Exit(code)
}

func start(needs Needs) (*Env, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := &Env{}
	if needs.Postgres {
		e.adminURL = os.Getenv("DATABASE_URL")
		if e.adminURL == "" {
			pg, err := servers.StartPostgres(ctx, servers.PostgresOptions{})
			if err != nil {
				return e, err
			}
			e.pg, e.adminURL = pg, pg.URL
		}
		e.template = fmt.Sprintf("gift_template_%d", os.Getpid())
		if err := e.createTemplate(ctx); err != nil {
			return e, err
		}
	}
	if needs.SQS {
		e.SQSEndpoint = os.Getenv("SQS_ENDPOINT")
		if e.SQSEndpoint == "" {
			emu, err := servers.StartSQSEmulator(ctx, 0, nil)
			if err != nil {
				return e, err
			}
			e.emu, e.SQSEndpoint = emu, emu.Endpoint
		}
	}
	return e, nil
}

func (e *Env) createTemplate(ctx context.Context) error {
	admin, err := pgx.Connect(ctx, e.adminURL)
	if err != nil {
		return fmt.Errorf("connect to test PostgreSQL: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+e.template); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	return MigrateURL(ctx, withDatabase(e.adminURL, e.template))
}

// MigrateURL applies the migrations to the database at url.
func MigrateURL(ctx context.Context, url string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", url, err)
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return fmt.Errorf("migrate %s: %w", url, err)
	}
	return nil
}

func (e *Env) stop() {
	if e == nil {
		return
	}
	if e.template != "" && e.pg == nil && e.adminURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if admin, err := pgx.Connect(ctx, e.adminURL); err == nil {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+e.template+" WITH (FORCE)")
			_ = admin.Close(ctx)
		}
		cancel()
	}
	if e.pg != nil {
		_ = e.pg.Stop()
	}
	if e.emu != nil {
		e.emu.Stop()
	}
}

// NewDatabase creates a migrated database for this test only, dropped when the test ends, and
// returns its URL.
func (e *Env) NewDatabase(t testing.TB) string {
	t.Helper()
	if e.template == "" {
		t.Fatal("testenv: this test binary did not ask for Postgres in TestMain")
	}
	ctx := context.Background()
	name := fmt.Sprintf("t%d_%d_%s", os.Getpid(), e.seq.Add(1), sanitize(t.Name()))
	admin, err := pgx.Connect(ctx, e.adminURL)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, e.template)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if admin, err := pgx.Connect(ctx, e.adminURL); err == nil {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = admin.Close(ctx)
		}
	})
	return withDatabase(e.adminURL, name)
}

// NewStore creates a test database and returns a pool on it (closed at the end) and a store.
func (e *Env) NewStore(t testing.TB) (*pgxpool.Pool, *postgres.Store) {
	t.Helper()
	pool, err := postgres.OpenPool(context.Background(), postgres.PoolConfig{URL: e.NewDatabase(t), ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("open test pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool, postgres.NewStore(pool, 10*time.Second)
}

// Queues is a queue pair created for one test.
type Queues struct {
	Client *awssqs.Client
	sqs.QueuePairURLs
	Pair sqs.QueuePair
}

// NewQueues creates a main queue and its DLQ (RedrivePolicy maxReceiveCount) with names unique to
// this test.
func (e *Env) NewQueues(t testing.TB, maxReceiveCount int) Queues {
	t.Helper()
	if e.SQSEndpoint == "" {
		t.Fatal("testenv: this test binary did not ask for SQS in TestMain")
	}
	ctx := context.Background()
	client, err := sqs.NewClient(ctx, sqs.ClientConfig{Region: "ap-northeast-1", Endpoint: e.SQSEndpoint})
	if err != nil {
		t.Fatalf("sqs client: %v", err)
	}
	base := fmt.Sprintf("t%d-%d-%s", os.Getpid(), e.seq.Add(1), sanitize(t.Name()))
	if len(base) > 70 {
		base = base[:70]
	}
	pair := sqs.QueuePair{Name: base, DLQName: base + "-dlq", MaxReceiveCount: maxReceiveCount}
	urls, err := sqs.EnsureQueues(ctx, client, pair)
	if err != nil {
		t.Fatalf("create test queues: %v", err)
	}
	return Queues{Client: client, QueuePairURLs: urls, Pair: pair}
}

// AdminURL is a superuser URL of the test server.
func (e *Env) AdminURL() string { return e.adminURL }

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 30 {
		s = s[:30]
	}
	return s
}

// withDatabase returns the connection string raw with its database replaced by db.
func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return raw + " dbname=" + db // keyword/value form: the last dbname wins
	}
	u.Path = "/" + db
	return u.String()
}
