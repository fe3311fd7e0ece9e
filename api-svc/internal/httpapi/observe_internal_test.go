package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/ext"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/mocktracer"
	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/gifts"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// createStore answers CreateGift with err, or panics when panics is set; the rest is unused.
type createStore struct {
	err    error
	panics bool
}

func (s createStore) CreateGift(context.Context, gift.Gift) error {
	if s.panics {
		panic("store bug")
	}
	return s.err
}

func (createStore) CreateGiftOnce(context.Context, gift.Gift, gift.CreateKey, []byte) (gift.CreateOutcome, error) {
	return gift.CreateOutcome{}, errors.New("unused")
}

func (createStore) GetClientGift(context.Context, uuid.UUID, uuid.UUID) (gift.Gift, error) {
	return gift.Gift{}, errors.New("unused")
}

func (createStore) ListGifts(context.Context, gift.ListQuery) (gift.Page, error) {
	return gift.Page{}, errors.New("unused")
}

func (createStore) Send(context.Context, gift.SendRequest, []byte, []byte, gift.OutboxClaim) (gift.SendOutcome, error) {
	return gift.SendOutcome{}, errors.New("unused")
}

// countedRequests records the gift.api.requests counts by their tags.
type countedRequests struct {
	mu   sync.Mutex
	tags [][]string
}

func (m *countedRequests) Count(name string, _ int64, tags ...string) {
	if name == "gift.api.requests" {
		m.mu.Lock()
		m.tags = append(m.tags, tags)
		m.mu.Unlock()
	}
}

func (*countedRequests) Distribution(string, float64, ...string) {}

// Every request but the probes gets one span named by route with its status code; a 5xx marks
// the span as an error carrying the internal cause and no stack, a 4xx (the client's mistake) does
// not. A panic's 500 is an answer like the others: logged, counted and on the span.
func TestRequestSpansRecordStatusAndServerErrors(t *testing.T) {
	for _, tc := range []struct {
		name, path, body string
		store            createStore
		status           string
		cause            string // "": no error on the span
	}{
		{"created", "/gifts", `{"amount":100}`, createStore{}, "201", ""},
		{"invalid", "/gifts", `{"amount":"x"}`, createStore{}, "400", ""},
		{"database down", "/gifts", `{"amount":100}`, createStore{err: gift.Unavailable(errors.New("dial tcp: refused"))}, "503", "unavailable: dial tcp: refused"},
		{"panic", "/gifts", `{"amount":100}`, createStore{panics: true}, "500", "panic: store bug"},
		{"probe", "/readyz", "", createStore{}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt := mocktracer.Start()
			defer mt.Stop()
			var logs bytes.Buffer
			metrics := &countedRequests{}
			h, err := NewHandler(withTestAuth(Options{
				Gifts: gifts.NewService(tc.store, nil, logging.New(&logs, "api", 0)),
				Ready: func(context.Context) error { return nil }, Log: logging.New(&logs, "api", 0),
				MaxBodyBytes: 1 << 20, Metrics: metrics, Tracing: tracing.NewRequestSampler(1000),
			}))
			if err != nil {
				t.Fatal(err)
			}
			method, body := http.MethodPost, strings.NewReader(tc.body)
			if tc.body == "" {
				method = http.MethodGet
			}
			r := httptest.NewRequest(method, tc.path, body)
			authorize(r)
			r.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(httptest.NewRecorder(), r)

			spans := mt.FinishedSpans()
			if tc.status == "" {
				if len(spans) != 0 {
					t.Errorf("%d spans, want none for a probe", len(spans))
				}
				return
			}
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			sp := spans[0]
			if got := sp.Tag("http.status_code"); got != tc.status || sp.Tag("resource.name") != "POST /gifts" {
				t.Errorf("span status %v resource %v, want %s on POST /gifts", got, sp.Tag("resource.name"), tc.status)
			}
			if msg, _ := sp.Tag(ext.ErrorMsg).(string); msg != tc.cause {
				t.Errorf("%s %q, want %q", ext.ErrorMsg, msg, tc.cause)
			}
			if stack := sp.Tag(ext.ErrorStack); stack != nil {
				t.Errorf("the span records a stack (the middleware's, of no use): %v", stack)
			}
			want := "status_class:" + tc.status[:1] + "xx"
			if len(metrics.tags) != 1 || !slices.Contains(metrics.tags[0], want) {
				t.Errorf("gift.api.requests counted %v, want once with %s", metrics.tags, want)
			}
			if !strings.Contains(logs.String(), `"msg":"http request"`) || !strings.Contains(logs.String(), `"http_status":`+tc.status) {
				t.Errorf("no access-log line with http_status %s:\n%s", tc.status, logs.String())
			}
		})
	}
}

// Every answer carries its own correlation id, whichever path wrote it (handler, validator, body
// limit, router, panic recovery, probes): in the Correlation-Id header, in the error envelope, on
// every log line of the request and on its span. A Correlation-Id sent by the client is logged
// apart and never becomes the id.
func TestEveryAnswerCarriesItsCorrelationID(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, contentType, body string
		store                                 createStore
		status                                int
	}{
		{"created", http.MethodPost, "/gifts", "application/json", `{"amount":100}`, createStore{}, 201},
		{"invalid", http.MethodPost, "/gifts", "application/json", `{"amount":"x"}`, createStore{}, 400},
		{"unsupported media type", http.MethodPost, "/gifts", "text/plain", `{"amount":100}`, createStore{}, 415},
		{"database down", http.MethodPost, "/gifts", "application/json", `{"amount":100}`, createStore{err: gift.Unavailable(errors.New("refused"))}, 503},
		{"panic", http.MethodPost, "/gifts", "application/json", `{"amount":100}`, createStore{panics: true}, 500},
		{"unknown path", http.MethodGet, "/nope", "", "", createStore{}, 404},
		{"method not allowed", http.MethodDelete, "/gifts", "", "", createStore{}, 405},
		{"liveness probe", http.MethodGet, "/healthz", "", "", createStore{}, 200},
		{"readiness probe", http.MethodGet, "/readyz", "", "", createStore{}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt := mocktracer.Start()
			defer mt.Stop()
			var logs bytes.Buffer
			log := logging.New(&logs, "api", -4) // DEBUG: the probes' lines too
			h, err := NewHandler(withTestAuth(Options{
				Gifts: gifts.NewService(tc.store, nil, log), Log: log,
				Ready: func(context.Context) error { return nil }, MaxBodyBytes: 1 << 20, Tracing: tracing.NewRequestSampler(1000),
			}))
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for range 2 {
				r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
				authorize(r)
				if tc.contentType != "" {
					r.Header.Set("Content-Type", tc.contentType)
				}
				r.Header.Set("Correlation-Id", "client-chosen")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
				}
				got := w.Header().Values("Correlation-Id")
				if len(got) != 1 || !correlation.Plausible(got[0]) || got[0] == "client-chosen" {
					t.Fatalf("Correlation-Id %q, want one id of the server's", got)
				}
				ids = append(ids, got[0])
				if tc.status >= 400 {
					var env struct {
						CorrelationID string `json:"correlation_id"`
					}
					if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.CorrelationID != got[0] {
						t.Errorf("envelope correlation_id %q (%v), want the header's %s: %s", env.CorrelationID, err, got[0], w.Body)
					}
				}
			}
			if ids[0] == ids[1] {
				t.Errorf("two requests share the id %s", ids[0])
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) < 2 {
				t.Fatalf("want at least one line per request:\n%s", logs.String())
			}
			access := 0
			for _, l := range lines {
				var line map[string]any
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatal(err)
				}
				if line["correlation_id"] != ids[0] && line["correlation_id"] != ids[1] {
					t.Errorf("a line of a request without its id: %s", l)
				}
				if line["msg"] == "http request" {
					access++
					if line[keyClientCorrelationID] != "client-chosen" {
						t.Errorf("access log without the client's own id: %s", l)
					}
				}
			}
			if access != 2 {
				t.Errorf("%d access-log lines, want 2:\n%s", access, logs.String())
			}
			for i, sp := range mt.FinishedSpans() {
				if sp.Tag(correlation.Key) != ids[i] {
					t.Errorf("span %d tag %s = %v, want %s", i, correlation.Key, sp.Tag(correlation.Key), ids[i])
				}
			}
		})
	}
}
