package apiserver_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/config"
)

// withSSLMode returns the database URL raw with sslmode set to mode.
func withSSLMode(t *testing.T, raw, mode string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("sslmode", mode)
	u.RawQuery = q.Encode()
	return u.String()
}

// DB_AUTH=iam with AWS credentials that cannot be had (the task role's credentials endpoint
// unreachable): no token can be built, so the database is unavailable as if it were down. The API
// stays up (live), reports not ready, answers 503 SERVICE_UNAVAILABLE with Retry-After, never 500,
// and says why in its log.
func TestIAMAuthWithoutAWSCredentialsIsNotReady(t *testing.T) {
	ctx := context.Background()
	cause := errors.New("no EC2 IMDS role found")
	db := env.NewDatabase(t)
	s := startStack(t, withEnv("DB_AUTH", "iam"), withEnv("DB_USER", "gift_api"),
		withDatabase(db, withSSLMode(t, db, "require")), withEnv("DB_CONNECT_TIMEOUT", "500ms"),
		withConfig(func(c *config.Config) {
			c.Database.AWSCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{}, cause
			})
		}))

	r, err := s.Client.GetReadyzWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode() != http.StatusServiceUnavailable || r.JSON503 == nil || *r.JSON503.Reason != "database unreachable" {
		t.Fatalf("readyz without AWS credentials: %d %s; want 503 database unreachable", r.StatusCode(), r.Body)
	}
	if h, _ := s.Client.GetHealthzWithResponse(ctx); h.StatusCode() != http.StatusOK {
		t.Fatal("liveness must not depend on the database credentials")
	}
	g, err := s.Client.GetGiftWithResponse(ctx, uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	if g.StatusCode() != http.StatusServiceUnavailable || g.HTTPResponse.Header.Get("Retry-After") == "" {
		t.Fatalf("get gift without AWS credentials: %d %s; want 503 with Retry-After", g.StatusCode(), g.Body)
	}
	if code, _ := envelope(t, g.Body); code != "SERVICE_UNAVAILABLE" {
		t.Fatalf("code %s; want SERVICE_UNAVAILABLE", code)
	}
	if logs := s.Logs.String(); !strings.Contains(logs, "build RDS IAM auth token for user gift_api") || !strings.Contains(logs, cause.Error()) {
		t.Fatalf("the logs do not say why:\n%s", logs)
	}
}
