// Package platform reads the settings both services share (database, queue, logging) from the
// environment and builds the adapters from them, so the two main packages stay short and agree on
// every variable name and default (README, "Configuration").
package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/awssecrets"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/rdsauth"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
)

// Default queue names, used by local runs and tests (in AWS, SQS_QUEUE_URL comes from Terraform).
const (
	DefaultQueueName = "gift-send"
	DefaultDLQName   = "gift-send-dlq"
	DefaultRegion    = "ap-northeast-1"
)

// Database authentication methods (DB_AUTH).
const (
	// AuthPassword: the user and password of DATABASE_URL / PG*, or of DB_SECRET_ARN (local runs,
	// tests, and the migration task with the RDS-managed master secret).
	AuthPassword = "password"
	// AuthIAM: RDS IAM database authentication, DB_USER with a token signed by the task role's
	// credentials at every new connection (the services in ECS). TLS is required.
	AuthIAM = "iam"
)

// Database is how to reach PostgreSQL.
type Database struct {
	URL            string        // DATABASE_URL; empty: libpq PG* variables
	Auth           string        // DB_AUTH: AuthPassword or AuthIAM
	User           string        // DB_USER: the database user of AuthIAM
	SecretARN      string        // DB_SECRET_ARN: user/password from this Secrets Manager secret (AuthPassword)
	MaxConns       int           // DB_MAX_CONNS
	ConnectTimeout time.Duration // DB_CONNECT_TIMEOUT
	QueryTimeout   time.Duration // DB_QUERY_TIMEOUT
	// Tracer is set by the service when tracing is on (tracing.PGX); not read from the environment.
	Tracer pgx.QueryTracer
	// Secrets is where the DB_SECRET_ARN secret is read: Secrets Manager (built from the AWS
	// configuration) when nil; tests put a stand-in here.
	Secrets awssecrets.SecretGetter
	// AWSCredentials signs the IAM auth tokens: the SDK's default chain (the task role) when nil;
	// tests put static or failing credentials here.
	AWSCredentials aws.CredentialsProvider
}

// ReadDatabase reads the database settings.
func ReadDatabase(r *envconfig.Reader) Database {
	d := Database{
		URL:            r.String("DATABASE_URL", ""),
		Auth:           r.String("DB_AUTH", AuthPassword),
		User:           r.String("DB_USER", ""),
		SecretARN:      r.String("DB_SECRET_ARN", ""),
		MaxConns:       r.Int("DB_MAX_CONNS", 10, 1, 1000),
		ConnectTimeout: r.Duration("DB_CONNECT_TIMEOUT", 2*time.Second, 100*time.Millisecond),
		QueryTimeout:   r.Duration("DB_QUERY_TIMEOUT", 5*time.Second, 10*time.Millisecond),
	}
	r.Check(d.Auth != AuthPassword && d.Auth != AuthIAM, "DB_AUTH=%q: want %s or %s", d.Auth, AuthPassword, AuthIAM)
	iam := d.Auth == AuthIAM
	r.Check(iam && d.User == "", "DB_AUTH=iam needs DB_USER, the database user the task role may connect as")
	r.Check(!iam && d.User != "", "DB_USER is the user of DB_AUTH=iam; with password authentication the user is in DATABASE_URL or PGUSER")
	r.Check(iam && d.SecretARN != "", "DB_SECRET_ARN and DB_AUTH=iam exclude each other: the secret is the migration task's, the services connect with IAM tokens")
	return d
}

// Open builds the pool (without connecting) and the store. region is the AWS region of the
// database (AWS_REGION): where the secret is read, and what the IAM auth tokens are signed for.
func (d Database) Open(ctx context.Context, region string) (*pgxpool.Pool, *postgres.Store, error) {
	pc := postgres.PoolConfig{URL: d.URL, MaxConns: int32(d.MaxConns), ConnectTimeout: d.ConnectTimeout, Tracer: d.Tracer} //nolint:gosec // bounded to 1000 by ReadDatabase
	switch {
	case d.Auth == AuthIAM:
		tokens, err := d.iamTokens(ctx, region)
		if err != nil {
			return nil, nil, err
		}
		pc.Credentials, pc.RequireTLS = tokens, true
	case d.SecretARN != "":
		secrets := d.Secrets
		if secrets == nil {
			awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
			if err != nil {
				return nil, nil, fmt.Errorf("load AWS config for the database secret: %w", err)
			}
			secrets = secretsmanager.NewFromConfig(awsCfg)
		}
		pc.Credentials = awssecrets.NewDBCredentials(secrets, d.SecretARN)
	}
	pool, err := postgres.OpenPool(ctx, pc)
	if err != nil {
		return nil, nil, err
	}
	return pool, postgres.NewStore(pool, d.QueryTimeout), nil
}

// iamTokens is the token source of DB_AUTH=iam: for DB_USER, at the host and port the pool
// dials (DATABASE_URL or PGHOST/PGPORT), signed by AWSCredentials or the default chain.
func (d Database) iamTokens(ctx context.Context, region string) (*rdsauth.Tokens, error) {
	cc, err := pgconn.ParseConfig(d.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database config: %w", err)
	}
	if strings.HasPrefix(cc.Host, "/") {
		return nil, fmt.Errorf("DB_AUTH=iam needs a TCP host, not the socket directory %s", cc.Host)
	}
	creds := d.AWSCredentials
	if creds == nil {
		awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
		if err != nil {
			return nil, fmt.Errorf("load AWS config for the database auth tokens: %w", err)
		}
		creds = awsCfg.Credentials
	}
	tokens, err := rdsauth.New(rdsauth.Config{
		Endpoint: net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), Region: region, User: d.User, Credentials: creds,
	})
	if err != nil {
		return nil, fmt.Errorf("database auth tokens: %w", err)
	}
	return tokens, nil
}

// Queue is how to reach the send queue.
type Queue struct {
	Region   string // AWS_REGION
	Endpoint string // SQS_ENDPOINT (local emulator); empty: AWS
	URL      string // SQS_QUEUE_URL; empty: resolved from Name
	Name     string // SQS_QUEUE_NAME
	DLQName  string // SQS_DLQ_NAME (local runs create the pair)
}

// ReadQueue reads the queue settings.
func ReadQueue(r *envconfig.Reader) Queue {
	return Queue{
		Region:   r.String("AWS_REGION", DefaultRegion),
		Endpoint: r.String("SQS_ENDPOINT", ""),
		URL:      r.String("SQS_QUEUE_URL", ""),
		Name:     r.String("SQS_QUEUE_NAME", DefaultQueueName),
		DLQName:  r.String("SQS_DLQ_NAME", DefaultDLQName),
	}
}

// Connect builds the SQS client and resolves the queue URL.
func (q Queue) Connect(ctx context.Context) (*awssqs.Client, string, error) {
	client, err := sqs.NewClient(ctx, sqs.ClientConfig{Region: q.Region, Endpoint: q.Endpoint})
	if err != nil {
		return nil, "", err
	}
	url, err := sqs.QueueURL(ctx, client, q.URL, q.Name)
	if err != nil {
		return nil, "", err
	}
	return client, url, nil
}

// Logger reads LOG_LEVEL and the service name (DD_SERVICE, else defaultService) and returns the
// JSON logger on stdout.
func Logger(r *envconfig.Reader, defaultService string) *slog.Logger {
	levelName := r.String("LOG_LEVEL", "INFO")
	level, err := logging.ParseLevel(levelName)
	r.Check(err != nil, "LOG_LEVEL=%q: want DEBUG, INFO, WARN or ERROR", levelName)
	return logging.New(os.Stdout, r.String("DD_SERVICE", defaultService), level)
}

// ConfigInvalid logs why the configuration was refused, as JSON on log (error_code CONFIG_INVALID,
// every problem in one error); the service then exits 2 without starting.
func ConfigInvalid(log *slog.Logger, err error) {
	log.Error("cannot start: invalid configuration", slog.String(logging.KeyStatus, "STOPPED"),
		slog.String(logging.KeyErrorCode, "CONFIG_INVALID"), logging.Err(err))
}

// DogStatsD is where metrics go and the tags every metric carries.
type DogStatsD struct {
	Addr string   // DD_AGENT_HOST:DD_DOGSTATSD_PORT; empty (DD_AGENT_HOST unset): no metrics
	Tags []string // the unified service tags service, env, version (DD_SERVICE, DD_ENV, DD_VERSION)
}

// ReadDogStatsD reads the metrics settings; defaultService names the service when DD_SERVICE is unset.
func ReadDogStatsD(r *envconfig.Reader, defaultService string) DogStatsD {
	var d DogStatsD
	if host := r.String("DD_AGENT_HOST", ""); host != "" {
		d.Addr = net.JoinHostPort(host, strconv.Itoa(r.Int("DD_DOGSTATSD_PORT", 8125, 1, 65535)))
	}
	d.Tags = []string{"service:" + r.String("DD_SERVICE", defaultService)}
	if env := r.String("DD_ENV", ""); env != "" {
		d.Tags = append(d.Tags, "env:"+env)
	}
	if v := r.String("DD_VERSION", ""); v != "" {
		d.Tags = append(d.Tags, "version:"+v)
	}
	return d
}
