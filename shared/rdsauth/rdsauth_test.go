package rdsauth_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/rdsauth"
)

// countingCredentials are static credentials that count how often they are asked for: once per
// token built.
type countingCredentials struct {
	aws.CredentialsProvider
	n atomic.Int64
}

func (c *countingCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c.n.Add(1)
	return c.CredentialsProvider.Retrieve(ctx)
}

func newCredentials() *countingCredentials {
	return &countingCredentials{CredentialsProvider: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret-key-example", "session-token-example")}
}

// clock is a settable time for the token cache.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// The token is a SigV4-presigned connect request for exactly the endpoint, region and user it
// was asked for, valid 900 s, built offline from static credentials.
func TestTheTokenIsForTheEndpointRegionAndUser(t *testing.T) {
	tokens, err := rdsauth.New(rdsauth.Config{
		Endpoint: "gift-prod.abc123.ap-northeast-1.rds.amazonaws.com:5432", Region: "ap-northeast-1",
		User: "gift_worker", Credentials: newCredentials(),
	})
	if err != nil {
		t.Fatal(err)
	}
	user, token, err := tokens.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if user != "gift_worker" {
		t.Fatalf("user %q; want gift_worker", user)
	}
	u, err := url.Parse("https://" + token)
	if err != nil {
		t.Fatalf("token %q is not a presigned URL: %v", token, err)
	}
	q := u.Query()
	for name, want := range map[string]string{
		"host":                 "gift-prod.abc123.ap-northeast-1.rds.amazonaws.com",
		"port":                 "5432",
		"Action":               "connect",
		"DBUser":               "gift_worker",
		"X-Amz-Algorithm":      "AWS4-HMAC-SHA256",
		"X-Amz-Expires":        "900",
		"X-Amz-Security-Token": "session-token-example",
	} {
		var got string
		switch name {
		case "host":
			got = u.Hostname()
		case "port":
			got = u.Port()
		default:
			got = q.Get(name)
		}
		if got != want {
			t.Errorf("%s = %q; want %q (token %s)", name, got, want, token)
		}
	}
	// AKID/YYYYMMDD/region/service/aws4_request
	scope := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(scope) != 5 || scope[0] != "AKIDEXAMPLE" || scope[2] != "ap-northeast-1" || scope[3] != "rds-db" || scope[4] != "aws4_request" {
		t.Errorf("X-Amz-Credential %q; want AKIDEXAMPLE/<date>/ap-northeast-1/rds-db/aws4_request", q.Get("X-Amz-Credential"))
	}
	if q.Get("X-Amz-Signature") == "" {
		t.Errorf("token not signed: %s", token)
	}
}

// Connections made within RefreshAfter share one token; the first one after it (and so any made
// after the token's 15-minute lifetime) gets a new one.
func TestATokenIsRebuiltBeforeItsLifetimeEnds(t *testing.T) {
	creds := newCredentials()
	clk := &clock{t: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}
	tokens, err := rdsauth.New(rdsauth.Config{
		Endpoint: "db.example:5432", Region: "ap-northeast-1", User: "gift_api", Credentials: creds, Now: clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	builds := func() int64 {
		t.Helper()
		if _, _, err := tokens.Credentials(context.Background()); err != nil {
			t.Fatal(err)
		}
		return creds.n.Load()
	}
	for _, step := range []struct {
		advance time.Duration
		want    int64
		why     string
	}{
		{0, 1, "first connection"},
		{time.Minute, 1, "one minute later"},
		{rdsauth.DefaultRefreshAfter - time.Minute - time.Nanosecond, 1, "just before the refresh age"},
		{time.Nanosecond, 2, "at the refresh age"},
		{rdsauth.TokenLifetime + time.Minute, 3, "after the token's lifetime"},
		{0, 3, "at once after that"},
	} {
		clk.advance(step.advance)
		if n := builds(); n != step.want {
			t.Fatalf("%s: %d tokens built; want %d", step.why, n, step.want)
		}
	}
}

// RDS refuses a token whose signing credentials have expired, even inside the token's own
// lifetime: a token signed with the task role's credentials five minutes before they are rotated
// is not handed out after they expire, and the next one is signed with the new credentials.
func TestATokenIsNotHandedOutPastItsCredentials(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}
	var retrieved []time.Time // the expiry of each set of credentials handed out
	creds := aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		c, err := newCredentials().Retrieve(ctx)
		c.CanExpire, c.Expires = true, clk.t.Add(5*time.Minute)
		retrieved = append(retrieved, c.Expires)
		return c, err
	})
	tokens, err := rdsauth.New(rdsauth.Config{
		Endpoint: "db.example:5432", Region: "ap-northeast-1", User: "gift_api", Credentials: creds, Now: clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		advance time.Duration
		want    int
		why     string
	}{
		{0, 1, "first connection"},
		{3*time.Minute + 59*time.Second, 1, "a minute before the credentials expire"},
		{time.Second, 2, "within a minute of their expiry"},
		{time.Minute, 2, "a minute later, on the new credentials"},
	} {
		clk.advance(step.advance)
		if _, _, err := tokens.Credentials(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(retrieved) != step.want {
			t.Fatalf("%s: %d tokens built; want %d", step.why, len(retrieved), step.want)
		}
	}
}

// Without credentials no token can be built: the error says so, wraps the cause, and is not
// kept (the next connection tries again).
func TestFailingCredentialsAreAWrappedErrorAndNotCached(t *testing.T) {
	cause := errors.New("failed to refresh cached credentials, no EC2 IMDS role found")
	var fail atomic.Bool
	fail.Store(true)
	creds := aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		if fail.Load() {
			return aws.Credentials{}, cause
		}
		return newCredentials().Retrieve(ctx)
	})
	tokens, err := rdsauth.New(rdsauth.Config{Endpoint: "db.example:5432", Region: "ap-northeast-1", User: "gift_api", Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = tokens.Credentials(context.Background())
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "gift_api") || !strings.Contains(err.Error(), "db.example:5432") {
		t.Fatalf("error %v; want the cause wrapped, naming the user and the endpoint", err)
	}
	fail.Store(false)
	if _, token, err := tokens.Credentials(context.Background()); err != nil || token == "" {
		t.Fatalf("after the credentials are back: %q %v", token, err)
	}
}

func TestNewRefusesAnIncompleteConfig(t *testing.T) {
	good := rdsauth.Config{Endpoint: "db.example:5432", Region: "ap-northeast-1", User: "gift_api", Credentials: newCredentials()}
	for name, mutate := range map[string]func(*rdsauth.Config){
		"no endpoint":                func(c *rdsauth.Config) { c.Endpoint = "" },
		"no region":                  func(c *rdsauth.Config) { c.Region = "" },
		"no user":                    func(c *rdsauth.Config) { c.User = "" },
		"no credentials":             func(c *rdsauth.Config) { c.Credentials = nil },
		"refresh after the lifetime": func(c *rdsauth.Config) { c.RefreshAfter = rdsauth.TokenLifetime },
	} {
		c := good
		mutate(&c)
		if _, err := rdsauth.New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := rdsauth.New(good); err != nil {
		t.Fatal(err)
	}
}
