// Package postgres is the PostgreSQL adapter: the connection pool, the embedded schema migrations
// and the store that keeps gifts, send requests and the outbox.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// PoolConfig says how to reach PostgreSQL.
type PoolConfig struct {
	// URL is a libpq connection string or URL (DATABASE_URL). When empty the standard libpq
	// variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE...) are used.
	URL string
	// Credentials, when set, supplies user and password at every new connection (an RDS IAM auth
	// token for the services, the RDS-managed master secret for the migration task); it overrides
	// any user/password in URL or the environment.
	Credentials CredentialSource
	// RequireTLS refuses a configuration that could connect without TLS (sslmode disable, allow or
	// prefer): an IAM auth token must not cross the network in clear, and RDS refuses it anyway.
	RequireTLS bool
	MaxConns   int32
	// ConnectTimeout bounds one connection attempt, so an unreachable database fails fast.
	ConnectTimeout time.Duration
	// Tracer, when set, sees every statement, batch and connection (tracing.PGX: APM spans).
	Tracer pgx.QueryTracer
}

// CredentialSource returns the database user and password for a new connection.
type CredentialSource interface {
	Credentials(ctx context.Context) (user, password string, err error)
}

// errCredentials marks a connection that could not be attempted because the credentials could
// not be had (no AWS credentials to sign an IAM auth token, the secret unreadable): the database
// is as unavailable to the service as if it were down.
var errCredentials = errors.New("database credentials")

// OpenPool builds a pool. It does not connect: the services start, and report not-ready, while the
// database is down, and connect as soon as it is back.
func OpenPool(ctx context.Context, cfg PoolConfig) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database config: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if cfg.ConnectTimeout > 0 {
		pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	}
	if cfg.RequireTLS && !tlsOnly(pc.ConnConfig) {
		return nil, fmt.Errorf("database config allows connections without TLS: set sslmode require, verify-ca or verify-full (PGSSLMODE or the URL)")
	}
	var tracers []pgx.QueryTracer
	if cfg.Tracer != nil {
		tracers = append(tracers, cfg.Tracer)
	}
	if src := cfg.Credentials; src != nil {
		pc.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			user, password, err := src.Credentials(ctx)
			if err != nil {
				return fmt.Errorf("%w: %w", errCredentials, err)
			}
			cc.User, cc.Password = user, password
			return nil
		}
	}
	pc.ConnConfig.Tracer = tracerChain(tracers)
	pc.AfterConnect = EncodeUUIDs
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("create database pool: %w", err)
	}
	return pool, nil
}

// tracerChain is the one tracer pgx allows on a connection config. nil when there is none.
func tracerChain(tracers []pgx.QueryTracer) pgx.QueryTracer {
	switch len(tracers) {
	case 0:
		return nil
	case 1:
		return tracers[0]
	default:
		return multitracer.New(tracers...)
	}
}

// tlsOnly reports whether every connection attempt cfg describes, fallbacks included, uses TLS.
func tlsOnly(cfg *pgx.ConnConfig) bool {
	if cfg.TLSConfig == nil {
		return false
	}
	for _, fb := range cfg.Fallbacks {
		if fb.TLSConfig == nil {
			return false
		}
	}
	return true
}

// authRefused reports whether err is a new connection that the server refused at
// authentication (SQLSTATE class 28: invalid_password, invalid_authorization_specification; an
// expired or wrongly signed IAM auth token, a user without rds-db:connect).
func authRefused(err error) bool {
	var ce *pgconn.ConnectError
	var pgErr *pgconn.PgError
	return errors.As(err, &ce) && errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "28")
}

// classify turns a driver error into a domain error where one applies: a database that cannot be
// reached (refused, timed out, connection lost or shutting down, credentials not to be had or
// refused) becomes gift.ErrUnavailable so the API answers 503 and the worker pauses instead of
// burning retries. Everything else is returned wrapped as it is.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if unreachable(err) {
		return fmt.Errorf("%s: %w", op, gift.Unavailable(err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unreachable reports whether err means the database could not be used at all, as opposed to a
// statement it rejected.
func unreachable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || errors.Is(err, errCredentials) || authRefused(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: shutting down or not accepting connections;
		// 53300: too many connections.
		switch {
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "08",
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", pgErr.Code == "53300":
			return true
		}
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	// Not a server answer: the connection failed or broke (refused, reset, closed, DNS).
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
