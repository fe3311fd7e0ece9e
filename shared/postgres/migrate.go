package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// rolesSQL creates the cluster's roles (docs/architecture.md, "Database roles"); grantsSQL gives
// them their privileges in this database. Both are repeatable: they run on every migrate.
var (
	//go:embed roles/roles.sql
	rolesSQL string
	//go:embed roles/grants.sql
	grantsSQL string
)

// migrationLockID is the advisory lock that serialises concurrent `migrate` runs (two deploys, or a
// deploy and a developer) so each migration is applied exactly once.
const migrationLockID = 7_404_161_122

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// Migration is one embedded, versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration versions must run 1, 2, 3...: %s is number %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// Migrate creates the database roles if they are missing, applies every embedded migration not
// yet recorded in schema_migrations, each in its own transaction, then the roles' grants (the
// schema's objects owned by gift_owner, each login role's privileges exactly as listed), all under
// an advisory lock. It returns how many migrations it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (int, error) {
	ms, err := Migrations()
	if err != nil {
		return 0, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()

	if err := ensureRoles(ctx, conn.Conn()); err != nil {
		return 0, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
		return 0, fmt.Errorf("migrate: take advisory lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx is done.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockID)
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, fmt.Errorf("migrate: read current version: %w", err)
	}
	if current > len(ms) {
		return 0, fmt.Errorf("migrate: database is at version %d but this binary knows only %d: deploy a newer binary", current, len(ms))
	}
	applied := 0
	for _, m := range ms[current:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migrate: apply %s: %w", m.Name, err)
		}
		applied++
		log.InfoContext(ctx, "migration applied", "status", "applied", "version", m.Version, "name", m.Name)
	}
	if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, grantsSQL)
		return err
	}); err != nil {
		return applied, fmt.Errorf("migrate: grant the roles' privileges: %w", err)
	}
	return applied, nil
}

// ensureRoles runs rolesSQL. Roles belong to the whole cluster while the advisory lock holds one
// database only: migrations of two databases of one cluster (tests make one per test) can create
// the same role or membership at the same moment, and the later one then fails with
// duplicate_object, unique_violation or "tuple concurrently updated". The run is repeated then; it
// finds what the other created.
func ensureRoles(ctx context.Context, conn *pgx.Conn) error {
	const attempts = 5
	var err error
	for range attempts {
		if _, err = conn.Exec(ctx, rolesSQL); err == nil || !createdConcurrently(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("migrate: create the database roles: %w", err)
	}
	return nil
}

// createdConcurrently tells whether err is a concurrent run's creation of the same cluster object.
func createdConcurrently(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "42710", "23505", "40001": // duplicate_object, unique_violation, serialization_failure
		return true
	case "XX000": // internal_error: "tuple concurrently updated"
		return pgErr.Message == "tuple concurrently updated"
	}
	return false
}
