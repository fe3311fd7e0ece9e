package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// conns is the pool as the store uses it. A statement whose new connection was refused at
// authentication runs once more: the refusal has made the credential source drop the password it
// had cached (see refusalTracer), so the second connection uses the secret as it is now, and a
// password rotation costs no failed request. Nothing had run on the refused connection, so
// repeating the statement is safe. Methods not listed here are the pool's own.
type conns struct{ *pgxpool.Pool }

func (c conns) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := c.Pool.Exec(ctx, sql, args...)
	if authRefused(err) {
		tag, err = c.Pool.Exec(ctx, sql, args...)
	}
	return tag, err
}

// QueryRow runs the query when the row is scanned, so that a refused connection can be retried.
func (c conns) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return retriedRow{pool: c.Pool, ctx: ctx, sql: sql, args: args}
}

func (c conns) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := c.Pool.Begin(ctx)
	if authRefused(err) {
		tx, err = c.Pool.Begin(ctx)
	}
	return tx, err
}

type retriedRow struct {
	pool *pgxpool.Pool
	ctx  context.Context //nolint:containedctx // the row runs its query when scanned, right after QueryRow
	sql  string
	args []any
}

func (r retriedRow) Scan(dest ...any) error {
	err := r.pool.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...)
	if authRefused(err) {
		err = r.pool.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...)
	}
	return err
}
