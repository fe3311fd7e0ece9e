package postgres_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/rdsauth"
)

// connectRecorder is a tracer that keeps the user and password of every connection attempt,
// as pgx starts it (after BeforeConnect).
type connectRecorder struct {
	mu        sync.Mutex
	passwords []string
	users     []string
}

func (r *connectRecorder) TraceConnectStart(ctx context.Context, data pgx.TraceConnectStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users = append(r.users, data.ConnConfig.User)
	r.passwords = append(r.passwords, data.ConnConfig.Password)
	return ctx
}

func (*connectRecorder) TraceConnectEnd(context.Context, pgx.TraceConnectEndData) {}

func (*connectRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (*connectRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// countingProvider counts the credentials retrievals: one per token built.
type countingProvider struct {
	mu   sync.Mutex
	n    int
	fail error
}

func (p *countingProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if p.fail != nil {
		return aws.Credentials{}, p.fail
	}
	return credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret-key-example", "").Retrieve(ctx)
}

func (p *countingProvider) builds() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// iamPool opens a pool on a test database (which trusts every connection, so it accepts the
// token as it would any password) whose credentials are IAM auth tokens built with creds, on the
// clock now.
func iamPool(t *testing.T, creds aws.CredentialsProvider, now func() time.Time, rec *connectRecorder) (*postgres.Store, func(), string) {
	t.Helper()
	url := env.NewDatabase(t)
	cc, err := pgconn.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
	tokens, err := rdsauth.New(rdsauth.Config{Endpoint: endpoint, Region: "ap-northeast-1", User: cc.User, Credentials: creds, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	pc := postgres.PoolConfig{URL: url, ConnectTimeout: 2 * time.Second, MaxConns: 2, Credentials: tokens}
	if rec != nil {
		pc.Tracer = rec
	}
	pool, err := postgres.OpenPool(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return postgres.NewStore(pool, 5*time.Second), pool.Reset, endpoint
}

// Every new connection presents a token for the database's endpoint; connections made within
// the refresh age share one, and a connection made after the token's lifetime gets a fresh one.
func TestIAMTokensAreTheConnectionsPasswordAndRebuiltAfterTheirLifetime(t *testing.T) {
	ctx := context.Background()
	creds := &countingProvider{}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	rec := &connectRecorder{}
	s, reset, endpoint := iamPool(t, creds, func() time.Time { return now }, rec)

	ping := func(why string, wantBuilds int) {
		t.Helper()
		reset() // every ping on a new connection
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("%s: %v", why, err)
		}
		if n := creds.builds(); n != wantBuilds {
			t.Fatalf("%s: %d tokens built; want %d", why, n, wantBuilds)
		}
	}
	ping("first connection", 1)
	now = now.Add(5 * time.Minute)
	ping("a new connection 5 minutes later", 1)
	now = now.Add(rdsauth.TokenLifetime)
	ping("a new connection after the token's lifetime", 2)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.passwords) != 3 {
		t.Fatalf("%d connection attempts; want 3", len(rec.passwords))
	}
	for i, pw := range rec.passwords {
		if !strings.HasPrefix(pw, endpoint+"?Action=connect&DBUser=") || !strings.Contains(pw, "X-Amz-Signature=") {
			t.Fatalf("connection %d presented %q; want an IAM auth token for %s", i, pw, endpoint)
		}
	}
}

// When no token can be built (the task role's credentials cannot be had), calls fail as
// gift.ErrUnavailable, as with a database that is down (503, not ready; the worker holds), with
// the cause in the error; they work again once credentials are back, without a restart.
func TestFailingAWSCredentialsMakeTheDatabaseUnavailable(t *testing.T) {
	ctx := context.Background()
	cause := errors.New("no EC2 IMDS role found")
	creds := &countingProvider{fail: cause}
	s, _, _ := iamPool(t, creds, time.Now, nil)

	err := s.Ping(ctx)
	if !errors.Is(err, gift.ErrUnavailable) || !errors.Is(err, cause) || !strings.Contains(err.Error(), "build RDS IAM auth token") {
		t.Fatalf("ping without AWS credentials: %v; want gift.ErrUnavailable wrapping the cause", err)
	}
	creds.mu.Lock()
	creds.fail = nil
	creds.mu.Unlock()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping once credentials are back: %v", err)
	}
}

// With RequireTLS (IAM auth), a configuration that could connect in clear is refused before any
// connection is made.
func TestRequireTLSRefusesAConfigurationWithoutTLS(t *testing.T) {
	for mode, ok := range map[string]bool{"disable": false, "allow": false, "prefer": false, "require": true, "verify-full": true} {
		_, err := postgres.OpenPool(context.Background(), postgres.PoolConfig{URL: "postgres://db.example:5432/gift?sslmode=" + mode, RequireTLS: true})
		if (err == nil) != ok {
			t.Errorf("sslmode=%s: error %v; want accepted %v", mode, err, ok)
		}
	}
}
