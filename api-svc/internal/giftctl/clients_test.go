package giftctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/giftctl"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// newAdminSystem is a test's own database and giftctl's environment pointing at it as
// gift_operator, without an API or queues: what the client and key commands need.
func newAdminSystem(t *testing.T) *system {
	t.Helper()
	db := env.NewDatabase(t)
	s := &system{vars: map[string]string{
		"DATABASE_URL":       env.RoleURL(t, db, testenv.RoleOperator),
		"SQS_ENDPOINT":       env.SQSEndpoint, // the emulator: the actor is os:tester
		"AWS_REGION":         "ap-northeast-1",
		"DB_CONNECT_TIMEOUT": "2s",
	}}
	var err error
	s.pool, err = pgxpool.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.pool.Close)
	s.store = postgres.NewStore(s.pool, 10*time.Second)
	return s
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("exit %d, stdout %q is not the JSON wanted (%v); stderr %s", r.code, r.stdout, err, r.stderr)
	}
	return v
}

// An operator's whole path with a client: create it, issue its two keys (a third refused), rotate
// one (revoke, issue), change its limit; each step shown by the list commands and recorded in its
// audit with who did it.
func TestClientAndKeyAdministration(t *testing.T) {
	t.Parallel()
	s := newAdminSystem(t)
	ctx := context.Background()

	r := s.run(t, "", "client", "create", "shop-web", "--rate", "5", "--burst", "10", "--actor", "alice")
	if r.code != 0 || !strings.Contains(r.stdout, "client shop-web created") || !strings.Contains(r.stdout, "rate 5/s, burst 10), by alice <os:tester>") {
		t.Fatalf("client create: %+v", r)
	}
	client, err := s.store.ClientByName(ctx, "shop-web")
	if err != nil || client.Limit != (gift.RateLimit{PerSecond: 5, Burst: 10}) {
		t.Fatalf("the client as stored: %+v, %v", client, err)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"client", "create", "shop-web"}, 1, "a client named shop-web exists"},
		{[]string{"client", "create", "Shop_Web"}, 2, "lowercase letters"},
		{[]string{"client", "create", "other", "--rate", "0"}, 2, "rate 0"},
		{[]string{"client", "create", "other", "--burst", "0"}, 2, "burst 0"},
		{[]string{"client", "create"}, 2, "want 1 argument"},
	} {
		if r := s.run(t, "", tc.args...); r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("%s: %+v; want exit %d and %q", strings.Join(tc.args, " "), r, tc.code, tc.stderr)
		}
	}
	if _, err := s.store.ClientByName(ctx, "other"); err == nil {
		t.Fatal("a refused client create made the client")
	}

	// The key alone on stdout, the warning on stderr.
	r = s.run(t, "", "key", "issue", "shop-web")
	text := strings.TrimSuffix(r.stdout, "\n")
	first, err := apikey.Parse(text)
	if r.code != 0 || err != nil || !strings.Contains(r.stderr, "issued to client shop-web (slot 1), by os:tester") ||
		!strings.Contains(r.stderr, "the only time the key is shown") {
		t.Fatalf("key issue: %+v (%v)", r, err)
	}
	stored, err := s.store.LookupAPIKey(ctx, first.ID)
	if err != nil || !first.Matches(stored.SecretHash) || stored.Client.ID != client.ID || stored.CreatedBy != "os:tester" {
		t.Fatalf("the issued key as stored: %+v, %v", stored, err)
	}
	r = s.run(t, "", "key", "issue", "shop-web", "--json", "--actor", "alice")
	issued := decode[giftctl.IssuedKey](t, r)
	second, err := apikey.Parse(issued.Key)
	if r.code != 0 || err != nil || second.ID != issued.ID || issued.Slot != 2 || !issued.Active || issued.Client != "shop-web" ||
		issued.CreatedBy != "alice <os:tester>" || !strings.Contains(r.stderr, "the only time the key is shown") {
		t.Fatalf("key issue --json: %+v (%v)", r, err)
	}
	if r := s.run(t, "", "key", "issue", "shop-web"); r.code != 1 || !strings.Contains(r.stderr, "has 2 active keys already") || r.stdout != "" {
		t.Fatalf("a third key: %+v", r)
	}
	if r := s.run(t, "", "key", "issue", "nobody"); r.code != 1 || !strings.Contains(r.stderr, "no client named nobody") {
		t.Fatalf("a key for an unknown client: %+v", r)
	}

	// Rotation: the first key revoked (after a declined confirmation), a new one in its slot.
	if r := s.run(t, "n\n", "key", "revoke", first.ID); r.code != 1 || !strings.Contains(r.stderr, "cancelled: nothing changed") ||
		!strings.Contains(r.stdout, "Revoke key "+first.ID+" of client shop-web (slot 1") {
		t.Fatalf("declined revoke: %+v", r)
	}
	if k, _ := s.store.LookupAPIKey(ctx, first.ID); !k.Active() {
		t.Fatal("a declined revoke revoked the key")
	}
	if r := s.run(t, "", "key", "revoke", first.ID, "--yes", "--actor", "bob"); r.code != 0 ||
		!strings.Contains(r.stdout, "key "+first.ID+" of client shop-web revoked") || !strings.Contains(r.stdout, "by bob <os:tester>") {
		t.Fatalf("revoke: %+v", r)
	}
	if k, _ := s.store.LookupAPIKey(ctx, first.ID); k.Active() || k.RevokedBy != "bob <os:tester>" {
		t.Fatalf("after the revoke: %+v", k)
	}
	if r := s.run(t, "", "key", "revoke", text, "--yes"); r.code != 0 || !strings.Contains(r.stdout, "revoked already") {
		t.Fatalf("revoke again, by the whole key: %+v", r)
	}
	if r := s.run(t, "", "key", "revoke", "0badf00d", "--yes"); r.code != 1 || !strings.Contains(r.stderr, "no key 0badf00d") {
		t.Fatalf("revoke of an unknown key: %+v", r)
	}
	if r := s.run(t, "", "key", "revoke", "not-a-key", "--yes"); r.code != 2 {
		t.Fatalf("revoke of a malformed id: %+v", r)
	}
	r = s.run(t, "", "key", "issue", "shop-web")
	thirdText := strings.TrimSpace(r.stdout)
	third, err := apikey.Parse(thirdText)
	if r.code != 0 || err != nil || !strings.Contains(r.stderr, "(slot 1)") {
		t.Fatalf("key issue after the revoke: %+v", r)
	}

	r = s.run(t, "", "key", "list", "shop-web", "--json")
	keys := decode[[]giftctl.KeyEntry](t, r)
	if r.code != 0 || len(keys) != 3 || keys[0].ID != third.ID || keys[1].ID != second.ID || keys[2].ID != first.ID ||
		!keys[0].Active || !keys[1].Active || keys[2].Active || keys[2].RevokedBy == nil || *keys[2].RevokedBy != "bob <os:tester>" {
		t.Fatalf("key list --json: %+v", r)
	}
	if r := s.run(t, "", "key", "list", "shop-web"); r.code != 0 || !strings.Contains(r.stdout, first.ID+"    1 revoked") ||
		!strings.Contains(r.stdout, third.ID+"    1 active") {
		t.Fatalf("key list: %+v", r)
	}

	// Limits.
	if r := s.run(t, "", "client", "limits", "shop-web", "--yes"); r.code != 2 || !strings.Contains(r.stderr, "--rate N, --burst N or both") {
		t.Fatalf("client limits without a limit: %+v", r)
	}
	if r := s.run(t, "n\n", "client", "limits", "shop-web", "--rate", "20"); r.code != 1 ||
		!strings.Contains(r.stdout, "from rate 5/s, burst 10 to rate 20/s, burst 10, by os:tester?") {
		t.Fatalf("declined client limits: %+v", r)
	}
	if r := s.run(t, "", "client", "limits", "shop-web", "--rate", "20", "--yes"); r.code != 0 ||
		!strings.Contains(r.stdout, "client shop-web: rate 20/s, burst 10, was rate 5/s, burst 10") {
		t.Fatalf("client limits: %+v", r)
	}
	if r := s.run(t, "", "client", "limits", "shop-web", "--burst", "0", "--yes"); r.code != 2 {
		t.Fatalf("client limits with burst 0: %+v", r)
	}
	if r := s.run(t, "", "client", "limits", "nobody", "--rate", "1", "--yes"); r.code != 1 || !strings.Contains(r.stderr, "no client named nobody") {
		t.Fatalf("limits of an unknown client: %+v", r)
	}
	if c, _ := s.store.ClientByName(ctx, "shop-web"); c.Limit != (gift.RateLimit{PerSecond: 20, Burst: 10}) {
		t.Fatalf("limit after the changes: %+v", c.Limit)
	}

	r = s.run(t, "", "client", "list", "--json")
	clients := decode[[]giftctl.ClientEntry](t, r)
	if r.code != 0 || len(clients) != 2 || clients[0].Name != "legacy" || clients[1].Name != "shop-web" || clients[1].ActiveKeys != 2 ||
		clients[1].RatePerSecond != 20 || clients[1].Burst != 10 || clients[1].CreatedBy != "alice <os:tester>" {
		t.Fatalf("client list --json: %+v", r)
	}
	if r := s.run(t, "", "client", "list"); r.code != 0 || !strings.Contains(r.stdout, "shop-web") || !strings.Contains(r.stdout, "legacy") {
		t.Fatalf("client list: %+v", r)
	}

	showJSON := s.run(t, "", "client", "show", "shop-web", "--json")
	detail := decode[giftctl.ClientDetail](t, showJSON)
	want := []giftctl.ClientEventEntry{
		{Action: "client.create", Actor: "alice <os:tester>", Detail: "rate_per_second=5 burst=10"},
		{Action: "key.issue", KeyID: first.ID, Actor: "os:tester"},
		{Action: "key.issue", KeyID: second.ID, Actor: "alice <os:tester>"},
		{Action: "key.revoke", KeyID: first.ID, Actor: "bob <os:tester>"},
		{Action: "key.issue", KeyID: third.ID, Actor: "os:tester"},
		{Action: "client.limits", Actor: "os:tester", Detail: "rate_per_second=20 burst=10 (was rate_per_second=5 burst=10)"},
	}
	if showJSON.code != 0 || detail.Name != "shop-web" || len(detail.Keys) != 3 || len(detail.Audit) != len(want) {
		t.Fatalf("client show --json: %+v", showJSON)
	}
	for i, w := range want {
		if got := detail.Audit[i]; got.Action != w.Action || got.KeyID != w.KeyID || got.Actor != w.Actor || got.Detail != w.Detail || got.At.IsZero() {
			t.Errorf("audit entry %d: %+v, want %+v", i, got, w)
		}
	}
	show := s.run(t, "", "client", "show", "shop-web")
	if show.code != 0 || !strings.Contains(show.stdout, "client shop-web (id "+client.ID.String()+"): rate 20/s, burst 10") ||
		!strings.Contains(show.stdout, "key.revoke") || !strings.Contains(show.stdout, "bob <os:tester>") {
		t.Fatalf("client show: %+v", show)
	}
	if r := s.run(t, "", "client", "show", "nobody"); r.code != 1 {
		t.Fatalf("client show of an unknown client: %+v", r)
	}

	// Only key issue ever prints a key's secret.
	for _, r := range []result{show, showJSON, s.run(t, "", "key", "list", "shop-web"), s.run(t, "", "key", "list", "shop-web", "--json")} {
		for _, k := range []string{text, issued.Key, thirdText} {
			secret := k[len("gk_")+8+1:]
			if strings.Contains(r.stdout, secret) || strings.Contains(r.stderr, secret) {
				t.Fatalf("a listing shows a key's secret: %+v", r)
			}
		}
	}
}

// The gift commands call the API with GIFT_API_KEY as a bearer token, and with no Authorization
// header at all without it; a GIFT_API_KEY that is not a key stops giftctl before any call.
func TestGiftCommandsSendTheAPIKey(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen []string
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"correlation_id":"c","error":{"code":"NOT_FOUND","message":"gift not found"},"request_id":null}`))
	}))
	t.Cleanup(api.Close)
	key, _, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	run := func(vars map[string]string, args ...string) result {
		var out, errOut bytes.Buffer
		cli := &giftctl.CLI{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, User: func() string { return "tester" },
			Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
			Connect: func(context.Context, giftctl.Config, *http.Client) (giftctl.Adapters, error) {
				return giftctl.Adapters{Close: func() {}}, nil
			}}
		return result{code: cli.Run(context.Background(), args), stdout: out.String(), stderr: errOut.String()}
	}
	last := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			return ""
		}
		return seen[len(seen)-1]
	}

	withKey := map[string]string{"API_URL": api.URL, "GIFT_API_KEY": key}
	for _, args := range [][]string{{"gift", "get", id}, {"gift", "send", id, "--key", "k"}, {"gift", "create", "--amount", "5"}} {
		if r := run(withKey, args...); r.code != 1 || !strings.Contains(r.stdout, "NOT_FOUND") {
			t.Fatalf("%v: %+v", args, r)
		}
		if got := last(); !strings.HasSuffix(got, " Bearer "+key) {
			t.Fatalf("%v sent %q; want the key as a bearer token", args, got)
		}
	}
	if r := run(map[string]string{"API_URL": api.URL}, "gift", "get", id); r.code != 1 || last() != "GET /gifts/"+id+" " {
		t.Fatalf("without GIFT_API_KEY: %+v, the API saw %q", r, last())
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	calls := count()
	r := run(map[string]string{"API_URL": api.URL, "GIFT_API_KEY": "not-a-key"}, "gift", "get", id)
	if r.code != 2 || !strings.Contains(r.stderr, "GIFT_API_KEY: not a Gift API key") || strings.Contains(r.stderr, "not-a-key") || count() != calls {
		t.Fatalf("a malformed GIFT_API_KEY: %+v, %d calls", r, count()-calls)
	}
}
