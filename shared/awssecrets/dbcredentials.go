// Package awssecrets reads database credentials from AWS Secrets Manager: the RDS-managed master
// user secret, a JSON document with "username" and "password" that RDS rotates.
package awssecrets

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretGetter is the one Secrets Manager call used here; *secretsmanager.Client implements it,
// and tests put a stand-in secret source behind it.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// RereadFloor is how soon the secret is read again after a refusal when the read brought back the
// very password that was refused: the secret has not caught up with the database yet, and without
// a floor every connection attempt would cost a Secrets Manager call until it does.
const RereadFloor = time.Second

// DBCredentials returns the secret's username and password. The copy it caches is read again
// once it is older than TTL, or at once when the database refuses its password (Refused), so new
// connections pick up a rotated password without a restart and without waiting for the TTL.
type DBCredentials struct {
	client SecretGetter
	arn    string
	ttl    time.Duration
	now    func() time.Time

	mu             sync.Mutex
	user, password string    // the cached copy; empty when there is none
	fetchedAt      time.Time // when it was read
	lastRefused    string    // the password last dropped because the database refused it
	refusedAt      time.Time // when
}

// NewDBCredentials reads secret arn through client, caching for ttl.
func NewDBCredentials(client SecretGetter, arn string, ttl time.Duration) *DBCredentials {
	return &DBCredentials{client: client, arn: arn, ttl: ttl, now: time.Now}
}

// Credentials implements postgres.CredentialSource. When the cached copy is older than TTL but
// Secrets Manager cannot be read, the copy is still used: it has not been refused, and an
// unreachable Secrets Manager must not make a working password unusable.
func (c *DBCredentials) Credentials(ctx context.Context) (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.user != "" && c.now().Sub(c.fetchedAt) < c.ttl {
		return c.user, c.password, nil
	}
	user, password, err := c.read(ctx)
	if err != nil {
		if c.user != "" {
			return c.user, c.password, nil
		}
		return "", "", err
	}
	c.user, c.password, c.fetchedAt = user, password, c.now()
	return c.user, c.password, nil
}

// Refused implements postgres.CredentialSource: the database refused password. If that is the
// cached copy, it is dropped and the next Credentials call reads the secret again, once however
// many connections were refused with it at the same time. If the same password was refused and
// dropped less than RereadFloor ago (the read brought it back), it is kept until then.
func (c *DBCredentials) Refused(password string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.user == "" || c.password != password {
		return // already read again since
	}
	if password == c.lastRefused && c.now().Sub(c.refusedAt) < RereadFloor {
		return
	}
	c.user, c.password = "", ""
	c.lastRefused, c.refusedAt = password, c.now()
}

func (c *DBCredentials) read(ctx context.Context) (string, string, error) {
	out, err := c.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(c.arn)})
	if err != nil {
		return "", "", fmt.Errorf("read secret %s: %w", c.arn, err)
	}
	var v struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil || v.Username == "" || v.Password == "" {
		return "", "", fmt.Errorf("secret %s is not a JSON object with username and password", c.arn)
	}
	return v.Username, v.Password, nil
}
