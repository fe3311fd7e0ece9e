package apiserver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/contracttest"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// securedRequests is a request of every operation of openapi.yaml that declares a security
// requirement, built from the document so that an operation added later is covered too; gift is
// a gift of the stack's client (so a request with its key would succeed).
func securedRequests(t *testing.T, base string, gift uuid.UUID) []*http.Request {
	t.Helper()
	spec, _, err := contracttest.Spec()
	must(t, err)
	var reqs []*http.Request
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			sec := op.Security
			if sec == nil {
				sec = &spec.Security
			}
			if len(*sec) == 0 {
				continue
			}
			var body *strings.Reader
			if op.RequestBody != nil {
				body = strings.NewReader(`{"amount": 100}`)
			} else {
				body = strings.NewReader("")
			}
			req, err := http.NewRequest(method, base+strings.ReplaceAll(path, "{gift_id}", gift.String()), body)
			must(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", uuid.NewString())
			reqs = append(reqs, req)
		}
	}
	if len(reqs) < 4 {
		t.Fatalf("%d secured operations in openapi.yaml, want at least list, create, get and send", len(reqs))
	}
	return reqs
}

// Every operation but the probes answers 401 in the envelope, with the RFC 6750 challenge, to a
// request without a key, with a malformed one, an unknown one, a known id with another secret, a
// revoked one; the probes need none. A refused request changes nothing.
func TestEveryOperationNeedsAValidKey(t *testing.T) {
	s := startStack(t)
	g := s.createGift(t)
	store := postgres.NewStore(s.Pool, 10*time.Second)
	revokedKey, _ := s.newClient(t, "revoked")
	k, err := apikey.Parse(revokedKey)
	must(t, err)
	if _, err := store.RevokeAPIKey(context.Background(), k.ID, "test"); err != nil {
		t.Fatal(err)
	}
	unknown, _, err := apikey.New()
	must(t, err)
	wrongSecret := s.Key[:12] + unknown[12:]
	plain := contracttest.HTTPClient(t) // no key of its own
	for _, auth := range []struct{ name, header string }{
		{"no Authorization header", ""},
		{"another scheme", "Basic dGVzdDp0ZXN0"},
		{"Bearer without a token", "Bearer "},
		{"a malformed key", "Bearer not-a-key"},
		{"an unknown key", "Bearer " + unknown},
		{"a known key id with another secret", "Bearer " + wrongSecret},
		{"a revoked key", "Bearer " + revokedKey},
	} {
		for _, req := range securedRequests(t, s.URL, g.GiftId) {
			if auth.header != "" {
				req.Header.Set("Authorization", auth.header)
			}
			x, err := do(plain, req)
			must(t, err)
			if err := checkDocumented(x, http.StatusUnauthorized); err != nil {
				t.Errorf("%s: %v", auth.name, err)
			}
		}
	}
	var gifts, sends int
	must(t, s.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM gifts), (SELECT count(*) FROM send_requests)`).Scan(&gifts, &sends))
	if gifts != 1 || sends != 0 {
		t.Errorf("refused requests changed the database: %d gifts, %d send requests; want 1 and 0", gifts, sends)
	}
	for _, probe := range []string{"/healthz", "/readyz"} {
		req, err := http.NewRequest(http.MethodGet, s.URL+probe, nil)
		must(t, err)
		x, err := do(plain, req)
		must(t, err)
		if err := checkDocumented(x, http.StatusOK); err != nil {
			t.Errorf("probe %s without a key: %v", probe, err)
		}
	}
	if !strings.Contains(s.Logs.String(), `"client":"test"`) {
		t.Error(`no access-log line names the client ("client":"test")`)
	}
}

// A key revoked while in use stops working within the key cache's TTL (here 300 ms), on a
// running API, without a restart; the client's other key keeps working (rotation).
func TestARevokedKeyStopsWorkingWithinTheCacheTTL(t *testing.T) {
	s := startStack(t, withEnv("API_KEY_CACHE_TTL", "300ms"))
	store := postgres.NewStore(s.Pool, 10*time.Second)
	second, _, err := store.IssueAPIKey(context.Background(), s.Owner.ID, "test")
	must(t, err)
	g := s.createGift(t)
	get := func(key string) int {
		req, err := http.NewRequest(http.MethodGet, s.URL+"/gifts/"+g.GiftId.String(), nil)
		must(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		x, err := do(s.HTTP, req)
		must(t, err)
		return x.status
	}
	if get(s.Key) != http.StatusOK || get(second) != http.StatusOK {
		t.Fatal("both active keys of a client must work")
	}
	k, err := apikey.Parse(s.Key)
	must(t, err)
	revokedAt := time.Now()
	if _, err := store.RevokeAPIKey(context.Background(), k.ID, "test"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "the revoked key to be refused", func() (bool, string) {
		st := get(s.Key)
		return st == http.StatusUnauthorized, fmt.Sprintf("status %d", st)
	})
	if took := time.Since(revokedAt); took > 3*time.Second {
		t.Errorf("the revoked key worked for %v after revocation, want about the TTL (300 ms)", took)
	}
	if st := get(second); st != http.StatusOK {
		t.Errorf("the client's other key: %d, want 200", st)
	}
}

// Another client's gift does not exist for a client: 404 on GET and on send (which changes
// nothing), and absent from its list. Idempotency-Keys are each client's own.
func TestAnotherClientsGiftIsNotFound(t *testing.T) {
	ctx := context.Background()
	s := startStack(t)
	theirs := s.createGift(t)
	otherKey, _ := s.newClient(t, "other")
	other, err := giftclient.NewClientWithResponses(s.URL, giftclient.WithHTTPClient(
		&http.Client{Transport: keyed(&contracttest.Transport{T: t}, otherKey)}))
	must(t, err)

	get, err := other.GetGiftWithResponse(ctx, theirs.GiftId)
	must(t, err)
	if get.StatusCode() != http.StatusNotFound || get.JSON404 == nil || get.JSON404.Error.Code != giftclient.NOTFOUND {
		t.Errorf("GET of another client's gift: %d %s, want 404 NOT_FOUND", get.StatusCode(), get.Body)
	}
	if strings.Contains(string(get.Body), theirs.Code) {
		t.Error("the 404 shows the gift's code")
	}
	send, err := other.SendGiftWithResponse(ctx, theirs.GiftId, &giftclient.SendGiftParams{IdempotencyKey: "steal"})
	must(t, err)
	if send.StatusCode() != http.StatusNotFound {
		t.Errorf("send of another client's gift: %d %s, want 404", send.StatusCode(), send.Body)
	}
	mine, err := s.Client.GetGiftWithResponse(ctx, theirs.GiftId)
	must(t, err)
	if mine.JSON200 == nil || mine.JSON200.Status != giftclient.GiftStatusCREATED {
		t.Errorf("the owner's gift after the other's send: %d %s, want CREATED", mine.StatusCode(), mine.Body)
	}
	list, err := other.ListGiftsWithResponse(ctx, nil)
	must(t, err)
	if list.JSON200 == nil || len(list.JSON200.Data) != 0 {
		t.Errorf("the other client's list: %d %s, want empty", list.StatusCode(), list.Body)
	}

	// One Idempotency-Key, two clients: two gifts.
	key := "shared-key"
	a, err := s.Client.CreateGiftWithResponse(ctx, &giftclient.CreateGiftParams{IdempotencyKey: &key}, giftclient.CreateGiftJSONRequestBody{Amount: 1})
	must(t, err)
	b, err := other.CreateGiftWithResponse(ctx, &giftclient.CreateGiftParams{IdempotencyKey: &key}, giftclient.CreateGiftJSONRequestBody{Amount: 2})
	must(t, err)
	if a.JSON201 == nil || b.JSON201 == nil || a.JSON201.GiftId == b.JSON201.GiftId {
		t.Errorf("one key, two clients: %d %s / %d %s, want two new gifts", a.StatusCode(), a.Body, b.StatusCode(), b.Body)
	}
}

// Paging through the list while gifts are being created (by this client and another) returns
// every gift that existed when the walk began exactly once, newest first, and only the client's
// own; pages of random sizes, several walks.
func TestListingWhileCreatingReturnsEveryEarlierGiftOnce(t *testing.T) {
	ctx := context.Background()
	s := startStack(t)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	otherKey, _ := s.newClient(t, "other")
	other, err := giftclient.NewClientWithResponses(s.URL, giftclient.WithHTTPClient(&http.Client{Transport: keyed(http.DefaultTransport, otherKey)}))
	must(t, err)

	var mu sync.Mutex
	mine := map[uuid.UUID]bool{}
	create := func(c *giftclient.ClientWithResponses, record bool) {
		r, err := c.CreateGiftWithResponse(ctx, nil, giftclient.CreateGiftJSONRequestBody{Amount: 7})
		if err != nil {
			t.Errorf("create: %v", err)
			return
		}
		if r.JSON201 == nil {
			t.Errorf("create: %d %s", r.StatusCode(), r.Body)
			return
		}
		if record {
			mu.Lock()
			mine[r.JSON201.GiftId] = true
			mu.Unlock()
		}
	}
	for range 60 {
		create(s.Client, true)
	}
	for walk := range 4 {
		mu.Lock()
		before := make(map[uuid.UUID]bool, len(mine))
		for id := range mine {
			before[id] = true
		}
		mu.Unlock()

		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, c := range []*giftclient.ClientWithResponses{s.Client, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						create(c, c == s.Client)
					}
				}
			}()
		}
		halt := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer halt() // also when the walk fails
		seen := map[uuid.UUID]int{}
		var last uuid.UUID
		var cursor *string
		pages := 0
		for {
			limit := 1 + rng.IntN(15)
			r, err := s.Client.ListGiftsWithResponse(ctx, &giftclient.ListGiftsParams{Limit: &limit, Cursor: cursor})
			must(t, err)
			if r.JSON200 == nil {
				t.Fatalf("walk %d: list: %d %s", walk, r.StatusCode(), r.Body)
			}
			if len(r.JSON200.Data) > limit {
				t.Fatalf("walk %d: %d gifts in a page of limit %d", walk, len(r.JSON200.Data), limit)
			}
			for _, g := range r.JSON200.Data {
				if last != uuid.Nil && strings.Compare(g.GiftId.String(), last.String()) >= 0 {
					t.Fatalf("walk %d: %s after %s: not newest first", walk, g.GiftId, last)
				}
				last = g.GiftId
				seen[g.GiftId]++
			}
			pages++
			if r.JSON200.NextCursor == nil {
				break
			}
			if pages > 10000 {
				t.Fatalf("walk %d: more than 10000 pages: the cursor does not move on", walk)
			}
			cursor = r.JSON200.NextCursor
		}
		halt()
		mu.Lock()
		for id, n := range seen {
			if !mine[id] {
				t.Errorf("walk %d: gift %s is not the client's", walk, id)
			}
			if n != 1 {
				t.Errorf("walk %d: gift %s listed %d times", walk, id, n)
			}
		}
		mu.Unlock()
		for id := range before {
			if seen[id] != 1 {
				t.Errorf("walk %d: gift %s, created before the walk, listed %d times", walk, id, seen[id])
			}
		}
		t.Logf("walk %d: %d pages, %d gifts listed, %d existed before", walk, pages, len(seen), len(before))
	}
}

// The status and creation-time filters keep exactly the gifts that match; limit and cursor
// outside the contract are 400.
func TestListFilters(t *testing.T) {
	ctx := context.Background()
	s := startStack(t)
	var all []giftclient.CreatedGift
	for range 6 {
		all = append(all, s.createGift(t))
	}
	var queued []uuid.UUID
	for _, g := range all[:2] {
		r, err := s.Client.SendGiftWithResponse(ctx, g.GiftId, &giftclient.SendGiftParams{IdempotencyKey: uuid.NewString()})
		must(t, err)
		if r.StatusCode() != http.StatusAccepted {
			t.Fatalf("send: %d %s", r.StatusCode(), r.Body)
		}
		queued = append(queued, g.GiftId)
	}
	ids := func(p *giftclient.ListGiftsParams) []uuid.UUID {
		t.Helper()
		r, err := s.Client.ListGiftsWithResponse(ctx, p)
		must(t, err)
		if r.JSON200 == nil {
			t.Fatalf("list %+v: %d %s", p, r.StatusCode(), r.Body)
		}
		var out []uuid.UUID
		for _, g := range r.JSON200.Data {
			out = append(out, g.GiftId)
		}
		return out
	}
	st := giftclient.GiftStatusQUEUED
	if got := ids(&giftclient.ListGiftsParams{Status: &st}); !sameIDs(got, queued) {
		t.Errorf("status=QUEUED: %v, want %v", got, queued)
	}
	since, before := all[2].CreatedAt, all[4].CreatedAt
	if got, want := ids(&giftclient.ListGiftsParams{CreatedSince: &since, CreatedBefore: &before}), []uuid.UUID{all[2].GiftId, all[3].GiftId}; !sameIDs(got, want) {
		t.Errorf("created_since %s, created_before %s: %v, want %v", since, before, got, want)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=AAAA", "cursor=" + url.QueryEscape("!!"), "status=LOST", "created_since=yesterday"} {
		req, err := http.NewRequest(http.MethodGet, s.URL+"/gifts?"+q, nil)
		must(t, err)
		x, err := do(s.HTTP, req)
		must(t, err)
		if err := checkDocumented(x, http.StatusBadRequest); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

func sameIDs(a, b []uuid.UUID) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	cmp := func(x, y uuid.UUID) int { return strings.Compare(x.String(), y.String()) }
	slices.SortFunc(a, cmp)
	slices.SortFunc(b, cmp)
	return slices.Equal(a, b)
}

// Beyond its limit a client gets 429 with Retry-After, in the header and in the envelope, and
// nothing is created; another client is not held back by it; after the wait it is served again.
func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	ctx := context.Background()
	s := startStack(t)
	store := postgres.NewStore(s.Pool, 10*time.Second)
	slow, err := store.CreateClient(ctx, "slow", gift.RateLimit{PerSecond: 0.5, Burst: 3}, "test")
	must(t, err)
	slowKey, _, err := store.IssueAPIKey(ctx, slow.ID, "test")
	must(t, err)
	c := &http.Client{Transport: keyed(&contracttest.Transport{T: t}, slowKey)}
	post := func() exchange {
		req, err := http.NewRequest(http.MethodPost, s.URL+"/gifts", strings.NewReader(`{"amount": 5}`))
		must(t, err)
		req.Header.Set("Content-Type", "application/json")
		x, err := do(c, req)
		must(t, err)
		return x
	}
	for i := range 3 {
		if x := post(); x.status != http.StatusCreated {
			t.Fatalf("request %d of a burst of 3: %s", i+1, x)
		}
	}
	x := post()
	if err := checkDocumented(x, http.StatusTooManyRequests); err != nil {
		t.Fatal(err)
	}
	if x.respHeader.Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q at 0.5/s with an empty bucket, want 2", x.respHeader.Get("Retry-After"))
	}
	var n int
	must(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM gifts WHERE client_id = $1`, slow.ID).Scan(&n))
	if n != 3 {
		t.Errorf("%d gifts of the limited client, want 3 (the 429 creates nothing)", n)
	}
	s.createGift(t) // the stack's own client is not held back
	if strings.Count(s.Logs.String(), `"error_code":"RATE_LIMITED"`) == 0 || !strings.Contains(s.Logs.String(), `"client":"slow"`) {
		t.Error("the 429 is not in the access log with its client")
	}
	time.Sleep(2 * time.Second)
	if x := post(); x.status != http.StatusCreated {
		t.Errorf("after Retry-After: %s, want 201", x)
	}
}
