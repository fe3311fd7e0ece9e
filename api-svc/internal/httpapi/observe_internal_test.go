package httpapi

import (
	"bytes"
	"context"
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
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
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

func (createStore) GetGift(context.Context, uuid.UUID) (gift.Gift, error) {
	return gift.Gift{}, errors.New("unused")
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
			h, err := NewHandler(Options{
				Gifts: gifts.NewService(tc.store, nil, logging.New(&logs, "api", 0)),
				Ready: func(context.Context) error { return nil }, Log: logging.New(&logs, "api", 0),
				MaxBodyBytes: 1 << 20, Metrics: metrics, Traced: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			method, body := http.MethodPost, strings.NewReader(tc.body)
			if tc.body == "" {
				method = http.MethodGet
			}
			r := httptest.NewRequest(method, tc.path, body)
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
