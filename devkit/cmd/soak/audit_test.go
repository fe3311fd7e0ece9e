package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The audit's judgement of a 5xx: the documented envelope, and inside a database outage.
func TestServerErrorJudgement(t *testing.T) {
	const id = "01a248ca-c646-7c66-b253-7bc68c488483"
	jsonHeader := http.Header{"Content-Type": {"application/json"}, "Correlation-Id": {id}}
	retry := http.Header{"Content-Type": {"application/json"}, "Retry-After": {"1"}, "Correlation-Id": {id}}
	for _, tt := range []struct {
		name   string
		status int
		header http.Header
		body   string
		ok     bool
	}{
		{"503 envelope with Retry-After", 503, retry, `{"error":{"code":"SERVICE_UNAVAILABLE","message":"service temporarily unavailable"},"request_id":"k","correlation_id":"` + id + `"}`, true},
		{"500 envelope", 500, jsonHeader, `{"error":{"code":"INTERNAL_ERROR","message":"internal error"},"request_id":null,"correlation_id":"` + id + `"}`, true},
		{"503 without Retry-After", 503, jsonHeader, `{"error":{"code":"SERVICE_UNAVAILABLE","message":"x"},"request_id":null,"correlation_id":"` + id + `"}`, false},
		{"code of another status", 503, retry, `{"error":{"code":"INTERNAL_ERROR","message":"x"},"request_id":null,"correlation_id":"` + id + `"}`, false},
		{"plain text", 502, http.Header{"Content-Type": {"text/plain"}}, `Bad Gateway`, false},
		{"extra field", 500, jsonHeader, `{"error":{"code":"INTERNAL_ERROR","message":"x","detail":"pq: boom"},"request_id":null,"correlation_id":"` + id + `"}`, false},
		{"undocumented status", 504, jsonHeader, `{"error":{"code":"INTERNAL_ERROR","message":"x"},"request_id":null,"correlation_id":"` + id + `"}`, false},
		{"no correlation id", 500, jsonHeader, `{"error":{"code":"INTERNAL_ERROR","message":"x"},"request_id":null}`, false},
		{"correlation id not the header's", 500, jsonHeader, `{"error":{"code":"INTERNAL_ERROR","message":"x"},"request_id":null,"correlation_id":"another"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := envelopeProblem(answer{status: tt.status, header: tt.header, body: []byte(tt.body)})
			if (p == "") != tt.ok {
				t.Fatalf("envelopeProblem = %q, want ok=%v", p, tt.ok)
			}
		})
	}

	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	faults := []fault{
		{name: "sqs", start: t0, end: t0.Add(15 * time.Second)},
		{name: "pg", database: true, start: t0.Add(time.Minute), end: t0.Add(time.Minute + 5*time.Second)},
	}
	for _, tt := range []struct {
		name    string
		at      time.Time
		latency time.Duration
		inside  bool
	}{
		{"during an SQS fault only", t0.Add(5 * time.Second), time.Millisecond, false},
		{"during the database outage", t0.Add(time.Minute + time.Second), time.Millisecond, true},
		{"sent before, answered during", t0.Add(time.Minute - time.Second), 2 * time.Second, true},
		{"within the grace after restart", t0.Add(time.Minute + 5*time.Second + outageGrace - time.Second), time.Millisecond, true},
		{"after the grace", t0.Add(time.Minute + 5*time.Second + outageGrace + time.Second), time.Millisecond, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := duringOutage(tt.at, tt.latency, faults); got != tt.inside {
				t.Fatalf("duringOutage = %v, want %v", got, tt.inside)
			}
		})
	}
}

// The log witness counts a gift once per stored final transition and flags a second one.
func TestLoggedFinalTransitions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "worker.log")
	lines := strings.Join([]string{
		`{"msg":"gift sent","gift_id":"a","status":"SENT"}`,
		`{"msg":"duplicate delivery: the gift was already finished, message deleted","gift_id":"a","status":"SENT"}`,
		`{"msg":"last attempt failed: gift FAILED, message moved to the DLQ","gift_id":"b","status":"FAILED"}`,
		`{"msg":"gift still QUEUED with its message in the DLQ: marked FAILED","gift_id":"b","status":"FAILED"}`,
		`{"msg":"gift sent","gift_id":"c","status":"SENT"}`,
		`not json`,
	}, "\n")
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	gifts, twice, err := loggedFinalTransitions(path)
	if err != nil || gifts != 3 || twice != 1 {
		t.Fatalf("loggedFinalTransitions = %d gifts, %d twice, %v; want 3, 1", gifts, twice, err)
	}
}

// The new error codes are accepted only with their own status and headers.
func TestErrorEnvelopesOfClients(t *testing.T) {
	const id = "01a248ca-c646-7c66-b253-7bc68c488483"
	header := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "Correlation-Id": {id}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	body := func(code string) string {
		return `{"error":{"code":"` + code + `","message":"x"},"request_id":null,"correlation_id":"` + id + `"}`
	}
	for _, tt := range []struct {
		name   string
		status int
		header http.Header
		body   string
		ok     bool
	}{
		{"404 of another client's gift", 404, header(), body("NOT_FOUND"), true},
		{"401 without a key", 401, header("WWW-Authenticate", "Bearer"), body("UNAUTHENTICATED"), true},
		{"401 with a bad key", 401, header("WWW-Authenticate", `Bearer error="invalid_token"`), body("API_KEY_INVALID"), true},
		{"401 without a challenge", 401, header(), body("API_KEY_INVALID"), false},
		{"429 with Retry-After", 429, header("Retry-After", "1"), body("RATE_LIMITED"), true},
		{"429 without Retry-After", 429, header(), body("RATE_LIMITED"), false},
		{"RATE_LIMITED with 503", 503, header("Retry-After", "1"), body("RATE_LIMITED"), false},
		{"API_KEY_INVALID with 404", 404, header(), body("API_KEY_INVALID"), false},
		{"NOT_FOUND with 401", 401, header("WWW-Authenticate", "Bearer"), body("NOT_FOUND"), false},
		{"an undocumented code", 401, header("WWW-Authenticate", "Bearer"), body("FORBIDDEN"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := envelopeProblem(answer{status: tt.status, header: tt.header, body: []byte(tt.body)})
			if (p == "") != tt.ok {
				t.Fatalf("envelopeProblem = %q, want ok=%v", p, tt.ok)
			}
		})
	}
}

// fakeAPI is an API of gifts with owners: POST /gifts makes a gift of the request's key, GET
// /gifts/{id} is 200 for its owner and the 404 envelope for anyone else unless leak; a request
// without a key of keys is 401.
type fakeAPI struct {
	keys []string
	leak bool

	mu    sync.Mutex
	owner map[string]string // gift id -> key
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Correlation-Id", "c1")
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !slices.Contains(f.keys, key) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"code":"UNAUTHENTICATED","message":"x"},"request_id":null,"correlation_id":"c1"}`)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodPost && r.URL.Path == "/gifts" {
		id := uuid.NewString()
		f.owner[id] = key
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"gift_id":%q,"code":"c","status":"CREATED","created_at":"2026-12-06T00:00:00Z"}`, id)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/gifts/")
	if owner, ok := f.owner[id]; ok && (owner == key || f.leak) {
		_, _ = fmt.Fprintf(w, `{"gift_id":%q,"code":"c","amount":1000,"message":null,"status":"CREATED","last_error":null,"created_at":"2026-12-06T00:00:00Z","updated_at":"2026-12-06T00:00:00Z"}`, id)
		return
	}
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, `{"error":{"code":"NOT_FOUND","message":"gift not found"},"request_id":null,"correlation_id":"c1"}`)
}

// Each client of the load sends its own key; the other client's read of a gift must be the 404
// envelope, and a leak is a violation; the probes carry no key.
func TestTwoClientsAndTheOtherClientsRead(t *testing.T) {
	ctx := context.Background()
	for _, leak := range []bool{false, true} {
		t.Run(fmt.Sprintf("leak=%v", leak), func(t *testing.T) {
			api := &fakeAPI{keys: []string{"key-a", "key-b"}, leak: leak, owner: map[string]string{}}
			srv := httptest.NewServer(api)
			defer srv.Close()
			l, err := newLoad(loadConfig{concurrency: 2}, []string{strings.TrimPrefix(srv.URL, "http://")}, api.keys)
			if err != nil {
				t.Fatal(err)
			}
			for c := range 2 {
				id, ok := l.create(ctx, c)
				if !ok {
					t.Fatalf("client %d could not create a gift: %v", c, l.violations)
				}
				if got := api.owner[id.String()]; got != api.keys[c] || l.owner[id] != c {
					t.Fatalf("gift of client %d created with key %q (load says client %d)", c, got, l.owner[id])
				}
				l.read(ctx, c, id)
				l.readOthers(ctx, 1-c, id)
			}
			if leak != (len(l.violations) == 2) || len(l.authErrs) != 0 {
				t.Fatalf("leak=%v: violations %q, 401/429 answers %d", leak, l.violations, len(l.authErrs))
			}
		})
	}
}

// A 401 or 429 is kept for the audit, whichever operation met it.
func TestUnauthorizedAnswersAreKept(t *testing.T) {
	api := &fakeAPI{keys: []string{"key-a"}, owner: map[string]string{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	l, err := newLoad(loadConfig{concurrency: 2}, []string{strings.TrimPrefix(srv.URL, "http://")}, []string{"key-a", "revoked"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.create(context.Background(), 1); ok {
		t.Fatal("a create with an unknown key succeeded")
	}
	if len(l.authErrs) != 1 || l.authErrs[0].status != http.StatusUnauthorized || envelopeProblem(l.authErrs[0]) != "" {
		t.Fatalf("401/429 answers kept: %+v", l.authErrs)
	}
}
