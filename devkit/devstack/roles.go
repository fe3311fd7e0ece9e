package devstack

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The login roles the migrations create (shared/postgres/roles, docs/architecture.md "Database
// roles"): the local system runs each program as its own role, as production does.
const (
	RoleAPI      = "gift_api"
	RoleWorker   = "gift_worker"
	RoleOperator = "gift_operator"
)

// RolePassword is the local password of a login role. On RDS the services sign in with IAM
// tokens instead and no password is set.
func RolePassword(role string) string { return "local-" + role }

// SetRolePasswords gives each login role its local password, connected as adminURL (the migration
// user), after the migrations have created the roles.
func SetRolePasswords(ctx context.Context, adminURL string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to set the roles' passwords: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	for _, role := range []string{RoleAPI, RoleWorker, RoleOperator} {
		// ALTER ROLE takes no parameters; the password is ours and has no quote.
		sql := fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", pgx.Identifier{role}.Sanitize(), RolePassword(role))
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("set the password of %s: %w", role, err)
		}
	}
	return nil
}

// RoleURL is adminURL (a URL or a keyword/value connection string) connecting as role with its
// local password.
func RoleURL(adminURL, role string) string {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// keyword/value form: the last user and password win
		return strings.TrimSpace(adminURL) + fmt.Sprintf(" user=%s password=%s", role, RolePassword(role))
	}
	u.User = url.UserPassword(role, RolePassword(role))
	return u.String()
}
