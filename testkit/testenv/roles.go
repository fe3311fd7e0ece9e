package testenv

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The login roles the migrations create (shared/postgres/roles): the API, the worker, giftctl.
const (
	RoleAPI      = "gift_api"
	RoleWorker   = "gift_worker"
	RoleOperator = "gift_operator"
)

// RolePassword is the password the test clusters give a login role, as the local scripts do.
func RolePassword(role string) string { return "local-" + role }

// RoleURL returns dbURL (a database of NewDatabase) connecting as role instead of the superuser,
// so that a test running a service as production does fails on any privilege the role lacks. The
// role's password is set in the cluster the first time it is asked for.
func (e *Env) RoleURL(t testing.TB, dbURL, role string) string {
	t.Helper()
	e.rolesMu.Lock()
	defer e.rolesMu.Unlock()
	if !e.rolesReady[role] {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, e.adminURL)
		if err != nil {
			t.Fatalf("connect to test PostgreSQL: %v", err)
		}
		defer admin.Close(ctx)
		sql := fmt.Sprintf("ALTER ROLE %s PASSWORD %s", pgx.Identifier{role}.Sanitize(), quote(RolePassword(role)))
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("set the password of %s: %v", role, err)
		}
		if e.rolesReady == nil {
			e.rolesReady = map[string]bool{}
		}
		e.rolesReady[role] = true
	}
	u, err := WithUser(dbURL, role, RolePassword(role))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// WithUser returns the URL raw (postgres://...) with its user and password replaced.
func WithUser(raw, user, password string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("testenv: %q is not a postgres:// URL", raw)
	}
	u.User = url.UserPassword(user, password)
	return u.String(), nil
}

// quote is a string literal for ALTER ROLE ... PASSWORD (DDL takes no parameters).
func quote(s string) string {
	out := []byte{'\''}
	for i := range len(s) {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
