package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/gifts"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
)

// discardMetrics takes the metrics and drops them (the cost of building their tags stays).
type discardMetrics struct{}

func (discardMetrics) Count(string, int64, ...string)          {}
func (discardMetrics) Distribution(string, float64, ...string) {}

// BenchmarkCreateGift measures the handler path of POST /gifts without a database (the store
// answers at once): validation, routing, binding, access log and metrics, as `make bench`
// exercises them (the database's share is measured there, against the hand-written peer).
func BenchmarkCreateGift(b *testing.B) {
	log := logging.New(io.Discard, "api", slog.LevelInfo)
	h, err := NewHandler(withTestAuth(Options{
		Gifts: gifts.NewService(createStore{}, nil, log),
		Ready: func(context.Context) error { return nil }, Log: log,
		MaxBodyBytes: 16 << 10, Metrics: discardMetrics{},
	}))
	if err != nil {
		b.Fatal(err)
	}
	const body = `{"amount":1000,"message":"bench"}`
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/gifts", strings.NewReader(body))
		authorize(r)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
