package platform_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jackc/pgx/v5"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/platform"
)

func readDatabase(vars map[string]string) (platform.Database, *envconfig.Reader) {
	r := &envconfig.Reader{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	return platform.ReadDatabase(r), r
}

func TestReadDatabaseAuth(t *testing.T) {
	for _, tt := range []struct {
		name    string
		vars    map[string]string
		wantErr string
	}{
		{"password by default", nil, ""},
		{"the migration task's secret", map[string]string{"DB_SECRET_ARN": "arn:aws:secretsmanager:ap-northeast-1:1:secret:rds"}, ""},
		{"iam with a user", map[string]string{"DB_AUTH": "iam", "DB_USER": "gift_api"}, ""},
		{"iam without a user", map[string]string{"DB_AUTH": "iam"}, "DB_AUTH=iam needs DB_USER"},
		{"iam with the master secret", map[string]string{"DB_AUTH": "iam", "DB_USER": "gift_api", "DB_SECRET_ARN": "arn"}, "exclude each other"},
		{"a user without iam", map[string]string{"DB_USER": "gift_api"}, "DB_USER is the user of DB_AUTH=iam"},
		{"an unknown method", map[string]string{"DB_AUTH": "kerberos"}, `DB_AUTH="kerberos": want password or iam`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, r := readDatabase(tt.vars)
			err := r.Err()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// recorder keeps the user and password of every connection attempt.
type recorder struct {
	mu             sync.Mutex
	user, password string
}

func (r *recorder) TraceConnectStart(ctx context.Context, data pgx.TraceConnectStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.user, r.password = data.ConnConfig.User, data.ConnConfig.Password
	return ctx
}

func (*recorder) TraceConnectEnd(context.Context, pgx.TraceConnectEndData) {}
func (*recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (*recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// DB_AUTH=iam: the pool's connections present a token for the host and port they dial (from
// DATABASE_URL), the region given and DB_USER, as that user. Nothing listens on the port: the
// attempt fails after the token was built, offline.
func TestOpenWithIAMSignsForTheDialledEndpoint(t *testing.T) {
	d, r := readDatabase(map[string]string{"DB_AUTH": "iam", "DB_USER": "gift_worker", "DATABASE_URL": "postgres://127.0.0.1:1/gift?sslmode=require"})
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	d.Tracer = rec
	d.AWSCredentials = credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret-key-example", "")
	pool, store, err := d.Open(context.Background(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := store.Ping(context.Background()); err == nil {
		t.Fatal("ping succeeded with nothing listening")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	u, err := url.Parse("https://" + rec.password)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if rec.user != "gift_worker" || u.Host != "127.0.0.1:1" || q.Get("DBUser") != "gift_worker" || !strings.Contains(q.Get("X-Amz-Credential"), "/eu-west-1/rds-db/") {
		t.Fatalf("connected as %q with %q; want gift_worker with a token for 127.0.0.1:1 in eu-west-1", rec.user, rec.password)
	}
}

// DB_AUTH=iam refuses a configuration that could send the token in clear.
func TestOpenWithIAMRequiresTLS(t *testing.T) {
	d, _ := readDatabase(map[string]string{"DB_AUTH": "iam", "DB_USER": "gift_api", "DATABASE_URL": "postgres://127.0.0.1:1/gift?sslmode=prefer"})
	d.AWSCredentials = credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret-key-example", "")
	if _, _, err := d.Open(context.Background(), "ap-northeast-1"); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("sslmode=prefer with IAM: %v; want refused for TLS", err)
	}
}
