package apiserver_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/contracttest"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
)

// createWithKey posts body to /gifts with the Idempotency-Key key (raw, as sent).
func (s *stack) createWithKey(t *testing.T, key, body string) (*http.Response, []byte) {
	t.Helper()
	return s.do(t, http.MethodPost, "/gifts", "application/json", body, map[string]string{"Idempotency-Key": key})
}

func (s *stack) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateWithTheSameKeyTwiceMakesOneGift(t *testing.T) {
	s := startStack(t)
	first, firstBody := s.createWithKey(t, "create-key-1", `{"amount": 3000, "message": "hi"}`)
	if first.StatusCode != http.StatusCreated || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first create: %d, Idempotent-Replayed %q: %s", first.StatusCode, first.Header.Get("Idempotent-Replayed"), firstBody)
	}
	// The same request in other bytes (property order, spacing) is the same request.
	for _, body := range []string{`{"amount": 3000, "message": "hi"}`, `{"message":"hi","amount":3000}`} {
		again, againBody := s.createWithKey(t, "create-key-1", body)
		if again.StatusCode != http.StatusCreated || string(againBody) != string(firstBody) ||
			again.Header.Get("Location") != first.Header.Get("Location") || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry with %s: %d, Location %q, Idempotent-Replayed %q: %s; want the first 201 %s replayed",
				body, again.StatusCode, again.Header.Get("Location"), again.Header.Get("Idempotent-Replayed"), againBody, firstBody)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM gifts`); n != 1 {
		t.Fatalf("%d gifts, want 1", n)
	}
	// Without a key every request creates.
	s.createGift(t)
	s.createGift(t)
	if n := s.count(t, `SELECT count(*) FROM gifts`); n != 3 {
		t.Fatalf("%d gifts, want 3", n)
	}
}

func TestCreateKeyReusedWithAnotherBodyIsRefused(t *testing.T) {
	s := startStack(t)
	if resp, body := s.createWithKey(t, "reused", `{"amount": 500}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("first create: %d %s", resp.StatusCode, body)
	}
	for _, body := range []string{`{"amount": 501}`, `{"amount": 500, "message": ""}`} {
		resp, got := s.createWithKey(t, "reused", body)
		code, requestID := envelope(t, got)
		if resp.StatusCode != http.StatusUnprocessableEntity || code != "IDEMPOTENCY_KEY_REUSED" || requestID == nil || *requestID != "reused" {
			t.Fatalf("same key, body %s: %d %s; want 422 IDEMPOTENCY_KEY_REUSED", body, resp.StatusCode, got)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM gifts`); n != 1 {
		t.Fatalf("%d gifts, want 1", n)
	}
}

func TestFiftyConcurrentCreatesWithOneKeyMakeOneGift(t *testing.T) {
	s := startStack(t)
	const n = 50
	bodies := make([]string, n)
	statuses := make([]int, n)
	replayed := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, s.URL+"/gifts", strings.NewReader(`{"amount": 700}`))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "one-key")
			resp, err := s.HTTP.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Error(err)
			}
			bodies[i], statuses[i], replayed[i] = string(b), resp.StatusCode, resp.Header.Get("Idempotent-Replayed")
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	firsts := 0
	for i := range n {
		if statuses[i] != http.StatusCreated || bodies[i] != bodies[0] {
			t.Fatalf("request %d: %d %s; want 201 %s", i, statuses[i], bodies[i], bodies[0])
		}
		if replayed[i] == "" {
			firsts++
		}
	}
	if firsts != 1 {
		t.Fatalf("%d answers without Idempotent-Replayed, want exactly 1 (the create; the rest replay it)", firsts)
	}
	if got := s.count(t, `SELECT count(*) FROM gifts`); got != 1 {
		t.Fatalf("%d gifts, want 1", got)
	}
}

func TestQuotedAndBareKeysAreOneKey(t *testing.T) {
	s := startStack(t)
	first, firstBody := s.createWithKey(t, `"quoted-create"`, `{"amount": 900}`)
	if first.StatusCode != http.StatusCreated {
		t.Fatalf("create with the quoted form: %d %s", first.StatusCode, firstBody)
	}
	again, againBody := s.createWithKey(t, "quoted-create", `{"amount": 900}`)
	if again.StatusCode != http.StatusCreated || string(againBody) != string(firstBody) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("create with the bare form: %d %s; want the replay of %s", again.StatusCode, againBody, firstBody)
	}
	id := strings.TrimPrefix(first.Header.Get("Location"), "/gifts/")

	sent, sentBody := s.do(t, http.MethodPost, "/gifts/"+id+"/send", "", "", map[string]string{"Idempotency-Key": "send-key"})
	if sent.StatusCode != http.StatusAccepted || sent.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("send with the bare form: %d %s", sent.StatusCode, sentBody)
	}
	replay, replayBody := s.do(t, http.MethodPost, "/gifts/"+id+"/send", "", "", map[string]string{"Idempotency-Key": `"send-key"`})
	if replay.StatusCode != http.StatusOK || string(replayBody) != string(sentBody) || replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("send with the quoted form: %d, Idempotent-Replayed %q: %s; want the replay of %s",
			replay.StatusCode, replay.Header.Get("Idempotent-Replayed"), replayBody, sentBody)
	}

	for _, bad := range []string{`""`, `"a\"b"`} {
		resp, body := s.createWithKey(t, bad, `{"amount": 900}`)
		if code, requestID := envelope(t, body); resp.StatusCode != http.StatusBadRequest || code != "VALIDATION_ERROR" || requestID != nil {
			t.Fatalf("create with key %s: %d %s; want 400 without request_id", bad, resp.StatusCode, body)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM gifts`); n != 1 {
		t.Fatalf("%d gifts, want 1", n)
	}
}

// The answer to a create is lost after the commit (the connection is reset as the 201 starts to
// flow back): the client cannot know whether a gift was made. Its retry with the same key gets
// the gift that was made, and no second one.
func TestCreateRetriedAfterTheAnswerWasCutReturnsTheSameGift(t *testing.T) {
	s := startStack(t)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(t).Proxy(t, "api", u.Host)
	client := &http.Client{Transport: keyed(&contracttest.Transport{T: t}, s.Key)}
	post := func() (*http.Response, string, error) {
		req, err := http.NewRequest(http.MethodPost, "http://"+proxy.Addr()+"/gifts", strings.NewReader(`{"amount": 1200}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "cut-after-commit")
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}

	cut := proxy.ResetPeer(faultproxy.Downstream, 0)
	if resp, body, err := post(); err == nil {
		t.Fatalf("create through the cut connection was answered: %d %s", resp.StatusCode, body)
	}
	var made uuid.UUID
	if err := s.Pool.QueryRow(context.Background(), `SELECT gift_id FROM create_requests WHERE idempotency_key = 'cut-after-commit'`).Scan(&made); err != nil {
		t.Fatalf("the create was not committed before its answer was cut: %v", err)
	}
	cut.Remove()

	resp, body, err := post()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/gifts/"+made.String() ||
		resp.Header.Get("Idempotent-Replayed") != "true" || !strings.Contains(body, made.String()) {
		t.Fatalf("retry: %d, Location %q: %s; want the replay of gift %s", resp.StatusCode, resp.Header.Get("Location"), body, made)
	}
	if n := s.count(t, `SELECT count(*) FROM gifts`); n != 1 {
		t.Fatalf("%d gifts, want 1", n)
	}
}

func TestExpiredCreateKeysArePrunedByTheAPI(t *testing.T) {
	s := startStack(t, withEnv("IDEMPOTENCY_PRUNE_INTERVAL", "20ms"), withEnv("IDEMPOTENCY_PRUNE_BATCH", "2"))
	for _, key := range []string{"expired-1", "expired-2", "expired-3", "kept"} {
		if resp, body := s.createWithKey(t, key, `{"amount": 100}`); resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s: %d %s", key, resp.StatusCode, body)
		}
	}
	if _, err := s.Pool.Exec(context.Background(),
		`UPDATE create_requests SET created_at = now() - interval '7 days 1 minute' WHERE idempotency_key LIKE 'expired-%'`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.count(t, `SELECT count(*) FROM create_requests WHERE idempotency_key LIKE 'expired-%'`) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("expired keys still stored after 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := s.count(t, `SELECT count(*) FROM create_requests WHERE idempotency_key = 'kept'`); n != 1 {
		t.Fatal("a key inside its retention was pruned")
	}
	if n := s.count(t, `SELECT count(*) FROM gifts`); n != 4 {
		t.Fatalf("%d gifts, want 4: pruning deletes keys, never gifts", n)
	}
	if !strings.Contains(s.Logs.String(), `"msg":"idempotency keys pruned"`) {
		t.Fatal(`no "idempotency keys pruned" log line`)
	}
	// An expired key is a new request: a new gift.
	resp, body := s.createWithKey(t, "expired-1", `{"amount": 100}`)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("create with a pruned key: %d %s; want a new gift", resp.StatusCode, body)
	}
	if n := s.count(t, `SELECT count(*) FROM gifts`); n != 5 {
		t.Fatalf("%d gifts, want 5", n)
	}
}
