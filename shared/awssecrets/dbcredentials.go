// Package awssecrets reads the database credentials of the migration task from AWS Secrets
// Manager: the RDS-managed master user secret, a JSON document with "username" and "password".
package awssecrets

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretGetter is the one Secrets Manager call used here; *secretsmanager.Client implements it,
// and tests put a stand-in secret source behind it.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// DBCredentials returns the secret's username and password, read once and kept for the life of
// the process: the migration task (and giftctl run on its task definition) lives for seconds to
// minutes, far less than the 7 days between two rotations of the managed secret, and a run that
// meets a rotation fails and is simply run again. A failed read is not kept: the next connection
// reads again.
type DBCredentials struct {
	client SecretGetter
	arn    string

	mu             sync.Mutex
	user, password string // empty until read
}

// NewDBCredentials reads secret arn through client.
func NewDBCredentials(client SecretGetter, arn string) *DBCredentials {
	return &DBCredentials{client: client, arn: arn}
}

// Credentials implements postgres.CredentialSource.
func (c *DBCredentials) Credentials(ctx context.Context) (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.user != "" {
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
	c.user, c.password = v.Username, v.Password
	return c.user, c.password, nil
}
