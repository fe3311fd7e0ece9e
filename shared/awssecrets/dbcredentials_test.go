package awssecrets

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

const arn = "arn:aws:secretsmanager:ap-northeast-1:000000000000:secret:rds!db-test"

// secret answers GetSecretValue with doc (or err) and counts the calls.
type secret struct {
	doc   string
	err   error
	reads int
}

func (s *secret) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.reads++
	if s.err != nil {
		return nil, s.err
	}
	if aws.ToString(in.SecretId) != arn {
		return nil, errors.New("ResourceNotFoundException")
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(s.doc)}, nil
}

func TestDBCredentials(t *testing.T) {
	ctx := context.Background()
	t.Run("read_once_and_kept", func(t *testing.T) {
		s := &secret{doc: `{"username":"owner","password":"v1"}`}
		c := NewDBCredentials(s, arn)
		for range 3 {
			user, pw, err := c.Credentials(ctx)
			if err != nil || user != "owner" || pw != "v1" {
				t.Fatalf("%q %q %v", user, pw, err)
			}
		}
		if s.reads != 1 {
			t.Fatalf("%d reads; want 1", s.reads)
		}
	})

	t.Run("a_failed_read_is_not_kept", func(t *testing.T) {
		s := &secret{doc: `{"username":"owner","password":"v1"}`, err: errors.New("dial tcp: connection refused")}
		c := NewDBCredentials(s, arn)
		if _, _, err := c.Credentials(ctx); err == nil || !errors.Is(err, s.err) {
			t.Fatalf("Secrets Manager down: %v; want its error wrapped", err)
		}
		s.err = nil
		if _, pw, err := c.Credentials(ctx); err != nil || pw != "v1" || s.reads != 2 {
			t.Fatalf("after Secrets Manager is back: %q %v after %d reads", pw, err, s.reads)
		}
	})

	t.Run("a_malformed_secret_is_an_error", func(t *testing.T) {
		for _, doc := range []string{`not json`, `{"username":"owner"}`, `{"password":"v1"}`} {
			if _, _, err := NewDBCredentials(&secret{doc: doc}, arn).Credentials(ctx); err == nil {
				t.Fatalf("secret %s accepted", doc)
			}
		}
	})
}
