package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{Postgres: true}, &env) }

// peerDB is a fresh database: the admin store (to make clients and keys) and a pool connected as
// the API's role, as the peer would be in production's place.
func peerDB(t *testing.T) (*postgres.Store, *pgxpool.Pool) {
	t.Helper()
	url := env.NewDatabase(t)
	admin, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	api, err := pgxpool.New(context.Background(), env.RoleURL(t, url, testenv.RoleAPI))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.Close)
	return postgres.NewStore(admin, 5*time.Second), api
}

type answer struct {
	status int
	header http.Header
	code   string
	giftID uuid.UUID
}

func create(t *testing.T, h http.Handler, authorization string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/gifts", strings.NewReader(`{"amount":1000,"message":"peer"}`))
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body struct {
		GiftID uuid.UUID `json:"gift_id"`
		Error  struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("answer %d is not JSON: %q", rec.Code, rec.Body)
	}
	return answer{status: rec.Code, header: rec.Header(), code: body.Error.Code, giftID: body.GiftID}
}

func owner(t *testing.T, pool *pgxpool.Pool, id uuid.UUID) uuid.UUID {
	t.Helper()
	var client uuid.UUID
	if err := pool.QueryRow(context.Background(), `SELECT client_id FROM gifts WHERE id = $1`, id).Scan(&client); err != nil {
		t.Fatalf("gift %s: %v", id, err)
	}
	return client
}

// The peer authenticates POST /gifts as the API does: the gift belongs to the key's client; no
// key, a malformed or unknown key, another secret under a known id and a revoked key are 401
// and store nothing.
func TestCreateAuthenticatesTheKeyAndOwnsTheGift(t *testing.T) {
	ctx := context.Background()
	store, pool := peerDB(t)
	client, err := store.CreateClient(ctx, "bench", gift.RateLimit{PerSecond: 100, Burst: 100}, "test")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := store.IssueAPIKey(ctx, client.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	revoked, stored, err := store.IssueAPIKey(ctx, client.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.RevokeAPIKey(ctx, stored.ID, "test"); err != nil {
		t.Fatal(err)
	}
	unknown, _, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	h := newPeer(pool, true).routes()

	for range 2 { // the second time from the cache
		a := create(t, h, "Bearer "+key)
		if a.status != http.StatusCreated {
			t.Fatalf("POST /gifts with the client's key: %d %s", a.status, a.code)
		}
		if got := owner(t, pool, a.giftID); got != client.ID {
			t.Fatalf("gift %s belongs to %s, want the key's client %s", a.giftID, got, client.ID)
		}
	}
	for _, tc := range []struct {
		name, authorization, code string
	}{
		{"no Authorization header", "", "UNAUTHENTICATED"},
		{"another scheme", "Basic " + key, "UNAUTHENTICATED"},
		{"not a key", "Bearer gk_nonsense", "API_KEY_INVALID"},
		{"a key nobody issued", "Bearer " + unknown, "API_KEY_INVALID"},
		{"a known id with another secret", "Bearer " + key[:12] + unknown[12:], "API_KEY_INVALID"},
		{"a revoked key", "Bearer " + revoked, "API_KEY_INVALID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := create(t, h, tc.authorization)
			if a.status != http.StatusUnauthorized || a.code != tc.code || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("answer %d %s (WWW-Authenticate %q), want 401 %s with a Bearer challenge",
					a.status, a.code, a.header.Get("WWW-Authenticate"), tc.code)
			}
		})
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM gifts`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d gifts stored (%v), want only the 2 created with the valid key", n, err)
	}
}

// With -auth=false the peer reads no key and stores the gift under the legacy client, with the
// same statement: the baseline of giftbench's "auth cost".
func TestCreateWithoutAuthStoresALegacyGift(t *testing.T) {
	_, pool := peerDB(t)
	a := create(t, newPeer(pool, false).routes(), "")
	if a.status != http.StatusCreated {
		t.Fatalf("POST /gifts without a key, -auth=false: %d %s", a.status, a.code)
	}
	if got := owner(t, pool, a.giftID); got != gift.LegacyClientID {
		t.Fatalf("gift belongs to %s, want the legacy client", got)
	}
}
