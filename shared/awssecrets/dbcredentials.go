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

// SecretGetter is the one Secrets Manager call used here.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// DBCredentials returns the secret's username and password, read again once the cached copy is
// older than TTL, so new connections pick up a rotated password within TTL without a restart.
type DBCredentials struct {
	client SecretGetter
	arn    string
	ttl    time.Duration
	now    func() time.Time

	mu             sync.Mutex
	user, password string
	fetchedAt      time.Time
}

// NewDBCredentials reads secret arn through client, caching for ttl.
func NewDBCredentials(client SecretGetter, arn string, ttl time.Duration) *DBCredentials {
	return &DBCredentials{client: client, arn: arn, ttl: ttl, now: time.Now}
}

// Credentials implements postgres.CredentialSource.
func (c *DBCredentials) Credentials(ctx context.Context) (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.user != "" && c.now().Sub(c.fetchedAt) < c.ttl {
		return c.user, c.password, nil
	}
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
	c.user, c.password, c.fetchedAt = v.Username, v.Password, c.now()
	return c.user, c.password, nil
}
