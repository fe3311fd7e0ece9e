package postgres_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// Parameters of google/uuid types reach PostgreSQL as the values they are (NULL for an invalid
// NullUUID, also through a pointer), and are encoded natively: pgx alone goes through their
// driver.Valuer string and a failed binary encode for each of them.
func TestUUIDParametersAreEncodedNatively(t *testing.T) {
	pool, _ := env.NewStore(t)
	ctx := context.Background()
	id := uuid.New()
	for _, tc := range []struct {
		name string
		arg  any
		want string // the parameter as text; "" for NULL
	}{
		{"uuid", id, id.String()},
		{"pointer", &id, id.String()},
		{"valid NullUUID", uuid.NullUUID{UUID: id, Valid: true}, id.String()},
		{"invalid NullUUID", uuid.NullUUID{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *string
			if err := pool.QueryRow(ctx, `SELECT $1::uuid::text`, tc.arg).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.want == "") || got != nil && *got != tc.want {
				t.Errorf("PostgreSQL read %v, want %q", got, tc.want)
			}
		})
	}

	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	m := conn.Conn().TypeMap()
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, id, buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	// Natively: the argument and the pgtype.UUID handed to the next plan, each boxed in an any. Through the string: the string, the
	// error, its message, the parsed value and more.
	if allocs > 2 {
		t.Errorf("encoding a uuid.UUID allocates %.0f times, want at most 2 (the native path)", allocs)
	}
}
