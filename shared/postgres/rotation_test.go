package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/mocktracer"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/awssecrets"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

func openWithSecret(t *testing.T, url string, secret *testenv.Secret) (*pgxpool.Pool, *postgres.Store) {
	t.Helper()
	pool, err := postgres.OpenPool(context.Background(), postgres.PoolConfig{
		URL: url, ConnectTimeout: 2 * time.Second, MaxConns: 4,
		Credentials: awssecrets.NewDBCredentials(secret, testenv.SecretARN, time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, postgres.NewStore(pool, 5*time.Second)
}

// A password rotation (RDS writes the new password to the database and to the secret) costs no
// failed call: the first new connection refused with the cached password makes the secret be read
// again, once, and the call runs on a connection with the new password. Every way the store takes
// a connection is covered: a row query, a statement, a transaction.
func TestARotatedPasswordIsReadAgainOnceAndTheCallSucceeds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster := testenv.StartPasswordCluster(t)
	url := cluster.NewRole(t, "gift_app", "v1")
	secret := testenv.NewSecret("gift_app", "v1")
	pool, s := openWithSecret(t, url, secret)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	g := gift.Gift{ID: uuid.Must(uuid.NewV7()), Code: uuid.NewString(), Amount: 1, Status: gift.StatusCreated, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	for i, call := range []struct {
		name string
		run  func() error
	}{
		{"row query (ping)", func() error { return s.Ping(ctx) }},
		{"statement (create gift)", func() error { return s.CreateGift(ctx, g) }},
		{"transaction (send)", func() error {
			_, err := s.Send(ctx, gift.SendRequest{GiftID: g.ID, RequestID: "rotation"}, []byte(`{}`), []byte(`{}`), gift.OutboxClaim{Token: uuid.New(), Lease: time.Minute})
			return err
		}},
	} {
		password := fmt.Sprintf("v%d", i+2)
		reads := secret.Reads()
		secret.Set(password)
		cluster.SetPassword(t, "gift_app", password)
		pool.Reset() // open connections outlive a rotation; new ones must use the new password
		if err := call.run(); err != nil {
			t.Fatalf("%s after the rotation to %s: %v", call.name, password, err)
		}
		if n := secret.Reads() - reads; n != 1 {
			t.Fatalf("%s: the secret was read %d times after the rotation; want once", call.name, n)
		}
	}
}

// While the secret still holds a password the database refuses, or Secrets Manager cannot be
// read, calls fail as gift.ErrUnavailable (503 with Retry-After, the worker holds), never as an
// internal error; they succeed again once the secret is right, without a restart.
func TestAStaleSecretOrAnUnreadableOneIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster := testenv.StartPasswordCluster(t)
	url := cluster.NewRole(t, "gift_app", "v1")
	secret := testenv.NewSecret("gift_app", "v1")
	pool, s := openWithSecret(t, url, secret)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	cluster.SetPassword(t, "gift_app", "v2") // the secret lags behind
	pool.Reset()
	err := s.Ping(ctx)
	if !errors.Is(err, gift.ErrUnavailable) {
		t.Fatalf("stale secret: %v; want gift.ErrUnavailable", err)
	}
	if _, err := s.GetGift(ctx, uuid.New()); !errors.Is(err, gift.ErrUnavailable) {
		t.Fatalf("stale secret, get gift: %v; want gift.ErrUnavailable", err)
	}

	secret.Fail(errors.New("operation error Secrets Manager: GetSecretValue: dial tcp: connection refused"))
	_, fresh := openWithSecret(t, url, secret) // nothing cached: the first connection needs the secret
	if err := fresh.Ping(ctx); !errors.Is(err, gift.ErrUnavailable) {
		t.Fatalf("Secrets Manager unreadable: %v; want gift.ErrUnavailable", err)
	}

	secret.Fail(nil)
	secret.Set("v2")
	for _, store := range []*postgres.Store{s, fresh} {
		testenv.Eventually(t, 10*time.Second, "the store to work again", func() (bool, string) {
			err := store.Ping(ctx)
			return err == nil, fmt.Sprint(err)
		})
	}
}

// ECS sets DB_SECRET_ARN and tracing together: both must work at once. With credential rotation
// and the APM tracer configured, every statement still gets its span, the connection the database
// refused for the old password is traced as a failed connect, and that refusal still makes the
// secret be read again (once) so the call succeeds.
func TestTracingAndCredentialRotationWorkTogether(t *testing.T) {
	t.Parallel()
	mt := mocktracer.Start()
	defer mt.Stop()
	ctx := context.Background()
	cluster := testenv.StartPasswordCluster(t)
	url := cluster.NewRole(t, "gift_app", "v1")
	secret := testenv.NewSecret("gift_app", "v1")
	pool, err := postgres.OpenPool(ctx, postgres.PoolConfig{
		URL: url, ConnectTimeout: 2 * time.Second, MaxConns: 4,
		Credentials: awssecrets.NewDBCredentials(secret, testenv.SecretARN, time.Minute),
		Tracer:      tracing.NewPGX(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := postgres.NewStore(pool, 5*time.Second)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	reads := secret.Reads()
	secret.Set("v2")
	cluster.SetPassword(t, "gift_app", "v2")
	pool.Reset()
	mt.Reset()
	if _, err := s.GetGift(ctx, uuid.New()); !errors.Is(err, gift.ErrNotFound) {
		t.Fatalf("get gift after the rotation: %v; want gift.ErrNotFound", err)
	}
	if n := secret.Reads() - reads; n != 1 {
		t.Fatalf("the secret was read %d times after the rotation; want once", n)
	}

	var queries, refused, connected int
	for _, sp := range mt.FinishedSpans() {
		switch sp.OperationName() {
		case tracing.SpanQuery:
			if res, _ := sp.Tag("resource.name").(string); strings.Contains(res, "FROM gifts WHERE id = $1") {
				queries++
			}
		case tracing.SpanConnect:
			if sp.Tag("error.message") != nil {
				refused++
			} else {
				connected++
			}
		}
	}
	if queries != 1 || refused != 1 || connected != 1 {
		t.Fatalf("spans: %d of the gift query, %d failed connects, %d connects; want 1, 1, 1 (all: %v)",
			queries, refused, connected, mt.FinishedSpans())
	}
}
