// Package postgres is the PostgreSQL adapter: the connection pool, the embedded schema migrations
// and the store that keeps gifts, send requests and the outbox.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// PoolConfig says how to reach PostgreSQL.
type PoolConfig struct {
	// URL is a libpq connection string or URL (DATABASE_URL). When empty the standard libpq
	// variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE...) are used.
	URL string
	// Credentials, when set, supplies user and password at every new connection (the RDS-managed
	// secret, which rotates); it overrides any user/password in URL or the environment.
	Credentials CredentialSource
	MaxConns    int32
	// ConnectTimeout bounds one connection attempt, so an unreachable database fails fast.
	ConnectTimeout time.Duration
	// Tracer, when set, sees every statement, batch and connection (tracing.PGX: APM spans).
	Tracer pgx.QueryTracer
}

// CredentialSource returns the current database user and password.
type CredentialSource interface {
	Credentials(ctx context.Context) (user, password string, err error)
}

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
	if cfg.Tracer != nil {
		pc.ConnConfig.Tracer = cfg.Tracer
	}
	if src := cfg.Credentials; src != nil {
		pc.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			user, password, err := src.Credentials(ctx)
			if err != nil {
				return fmt.Errorf("database credentials: %w", err)
			}
			cc.User, cc.Password = user, password
			return nil
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("create database pool: %w", err)
	}
	return pool, nil
}

// classify turns a driver error into a domain error where one applies: a database that cannot be
// reached (refused, timed out, connection lost or shutting down) becomes gift.ErrUnavailable so
// the API answers 503 and the worker pauses instead of burning retries. Everything else is
// returned wrapped as it is.
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
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
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
