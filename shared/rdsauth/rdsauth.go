// Package rdsauth supplies RDS IAM database authentication tokens as the password of new
// database connections: the services' task roles connect as their own database user with a
// short-lived token instead of a stored password (docs/architecture.md, "Database credentials").
package rdsauth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
)

// TokenLifetime is how long RDS accepts a token after it was built (the presigned URL's
// X-Amz-Expires). RDS checks it when a connection authenticates only: an open connection outlives
// its token.
const TokenLifetime = 15 * time.Minute

// DefaultRefreshAfter is how old a cached token may be before a new connection gets a fresh one:
// well inside TokenLifetime, so a token handed out late in its life still has minutes left for the
// connection attempt itself.
const DefaultRefreshAfter = 10 * time.Minute

// Config says for which database user, on which instance, a token is built.
type Config struct {
	Endpoint string // host:port of the RDS instance, exactly as the connections dial it
	Region   string // region of the instance (AWS_REGION)
	User     string // database user the task role may connect as (rds-db:connect on its dbuser ARN)
	// Credentials signs the token: the task role's credentials (the SDK's default chain, cached).
	Credentials aws.CredentialsProvider
	// RefreshAfter is the age after which a new token is built; DefaultRefreshAfter when zero.
	// It must be shorter than TokenLifetime.
	RefreshAfter time.Duration
	// Now is the clock the cache reads; time.Now when nil. Tests set it.
	Now func() time.Time
}

// Tokens returns the database user and an IAM authentication token for every new connection. A
// token is built (signed locally: no network call) at most once per RefreshAfter and shared by the
// connections made meanwhile. It implements postgres.CredentialSource.
type Tokens struct {
	cfg Config

	mu         sync.Mutex
	token      string
	validUntil time.Time // when the cached token is no longer handed out
}

// credentialsMargin is how long before the signing credentials expire a token signed with them is
// no longer handed out: RDS refuses a token whose credentials have expired, even inside the
// token's own 15 minutes, and the task role's credentials are rotated every few hours.
const credentialsMargin = time.Minute

// New checks cfg and returns the token source.
func New(cfg Config) (*Tokens, error) {
	if cfg.RefreshAfter == 0 {
		cfg.RefreshAfter = DefaultRefreshAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.Endpoint == "" || cfg.Region == "" || cfg.User == "":
		return nil, fmt.Errorf("rds iam auth: endpoint (%q), region (%q) and user (%q) are all required", cfg.Endpoint, cfg.Region, cfg.User)
	case cfg.Credentials == nil:
		return nil, fmt.Errorf("rds iam auth: no AWS credentials provider")
	case cfg.RefreshAfter < 0 || cfg.RefreshAfter >= TokenLifetime:
		return nil, fmt.Errorf("rds iam auth: refresh after %s: want more than 0 and less than the token lifetime %s", cfg.RefreshAfter, TokenLifetime)
	}
	return &Tokens{cfg: cfg}, nil
}

// Credentials returns the user and a token younger than RefreshAfter and signed with credentials
// that are still valid, building one if needed. A failure (no credentials: the task role's
// credentials endpoint unreachable, say) is returned wrapped and not cached, so the next
// connection tries again.
func (t *Tokens) Credentials(ctx context.Context) (string, string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	if t.token != "" && now.Before(t.validUntil) {
		return t.cfg.User, t.token, nil
	}
	creds, err := t.cfg.Credentials.Retrieve(ctx)
	if err == nil {
		var token string
		token, err = auth.BuildAuthToken(ctx, t.cfg.Endpoint, t.cfg.Region, t.cfg.User, signWith(creds))
		t.token, t.validUntil = token, now.Add(t.cfg.RefreshAfter)
		if creds.CanExpire {
			if until := creds.Expires.Add(-credentialsMargin); until.Before(t.validUntil) {
				t.validUntil = until
			}
		}
	}
	if err != nil {
		t.token = ""
		return "", "", fmt.Errorf("build RDS IAM auth token for user %s at %s (%s): %w", t.cfg.User, t.cfg.Endpoint, t.cfg.Region, err)
	}
	return t.cfg.User, t.token, nil
}

// signWith is a provider of the credentials already retrieved, so that a token's validity is
// decided by the same credentials that sign it.
func signWith(creds aws.Credentials) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
}
