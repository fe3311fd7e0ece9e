package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
)

// SecretARN is the ARN tests give DB_SECRET_ARN; a Secret answers for it.
const SecretARN = "arn:aws:secretsmanager:ap-northeast-1:000000000000:secret:rds!db-test" //nolint:gosec // an ARN, not a credential

// Secret is a stand-in for Secrets Manager holding one database secret, the JSON document RDS
// keeps ({"username", "password"}). It implements awssecrets.SecretGetter, as
// *secretsmanager.Client does, so the production code reads it exactly as it reads the real one.
// It counts the reads and fails them while Fail has set an error.
type Secret struct {
	mu             sync.Mutex
	user, password string
	err            error
	reads          int
}

// NewSecret returns a secret holding user and password.
func NewSecret(user, password string) *Secret { return &Secret{user: user, password: password} }

// Set changes the password the secret holds (a rotation, as RDS writes it).
func (s *Secret) Set(password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.password = password
}

// Fail makes every read fail with err (Secrets Manager unreachable); nil answers again.
func (s *Secret) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// Reads is how many times the secret has been read.
func (s *Secret) Reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// GetSecretValue answers as Secrets Manager does for SecretARN.
func (s *Secret) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.err != nil {
		return nil, s.err
	}
	if aws.ToString(in.SecretId) != SecretARN {
		return nil, fmt.Errorf("ResourceNotFoundException: secret %s not found", aws.ToString(in.SecretId))
	}
	doc := fmt.Sprintf(`{"username":%s,"password":%s}`, strconv.Quote(s.user), strconv.Quote(s.password))
	return &secretsmanager.GetSecretValueOutput{ARN: in.SecretId, SecretString: aws.String(doc)}, nil
}

// PasswordCluster is a PostgreSQL cluster of one test that authenticates TCP connections by
// password (scram-sha-256, as RDS does), for tests of password rotation. The test clusters of Main
// trust every connection, which would accept any password.
type PasswordCluster struct {
	pg *servers.Postgres
}

// StartPasswordCluster starts a password-authenticating cluster, stopped when the test ends.
func StartPasswordCluster(t testing.TB) *PasswordCluster {
	t.Helper()
	pg, err := servers.StartPostgres(context.Background(), servers.PostgresOptions{Password: "superuser-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	return &PasswordCluster{pg: pg}
}

// NewRole creates the login role with password and a migrated database it owns, and returns the
// database's URL without user or password (they come from the secret).
func (c *PasswordCluster) NewRole(t testing.TB, role, password string) string {
	t.Helper()
	ctx := context.Background()
	c.exec(t, fmt.Sprintf("CREATE ROLE %s LOGIN CREATEROLE PASSWORD %s", pgx.Identifier{role}.Sanitize(), quote(password)))
	c.exec(t, fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgx.Identifier{role}.Sanitize(), pgx.Identifier{role}.Sanitize()))
	bare := fmt.Sprintf("postgres://127.0.0.1:%d/%s?sslmode=disable", c.pg.Port, role)
	u, _ := url.Parse(bare)
	u.User = url.UserPassword(role, password)
	if err := MigrateURL(ctx, u.String()); err != nil {
		t.Fatal(err)
	}
	return bare
}

// SetPassword changes the role's password in the database (the database side of a rotation).
// Open connections stay open, as in RDS; new ones need the new password.
func (c *PasswordCluster) SetPassword(t testing.TB, role, password string) {
	t.Helper()
	c.exec(t, fmt.Sprintf("ALTER ROLE %s PASSWORD %s", pgx.Identifier{role}.Sanitize(), quote(password)))
}

func (c *PasswordCluster) exec(t testing.TB, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(errors.Join(fmt.Errorf("%s", sql), err))
	}
}

// quote is a string literal for the statements above (DDL takes no parameters).
func quote(s string) string {
	out := []byte{'\''}
	for i := range len(s) {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
