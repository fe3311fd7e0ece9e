package health_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/health"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func get(t *testing.T, h http.Handler) (int, health.Body) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	var b health.Body
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	return rec.Code, b
}

func TestHealthz(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)}
	paused := ""
	for _, tc := range []struct {
		name      string
		setup     func(l *health.Liveness)
		paused    string
		code      int
		receiving bool
		reason    string
	}{
		{"not started yet is unhealthy", func(*health.Liveness) {}, "", 503, false, "not started"},
		{"beating loop is healthy and receiving", func(l *health.Liveness) { l.Beat() }, "", 200, true, ""},
		{"paused for the database is alive, and says so", func(l *health.Liveness) { l.Beat() }, "database unavailable: refused", 200, false, "receiving paused: database unavailable"},
		{"a loop silent past the limit is stuck", func(l *health.Liveness) { l.Beat(); c.t = c.t.Add(61 * time.Second) }, "", 503, false, "no progress"},
		{"silence up to the limit is fine", func(l *health.Liveness) { l.Beat(); c.t = c.t.Add(60 * time.Second) }, "", 200, true, ""},
		{"an ended loop is dead", func(l *health.Liveness) { l.Beat(); l.Ended() }, "", 503, false, "ended"},
		{"draining at shutdown is healthy, not receiving", func(l *health.Liveness) { l.Beat(); l.Stopping(); l.Ended() }, "", 200, false, "shutting down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := health.NewLiveness(time.Minute, c.now)
			tc.setup(l)
			paused = tc.paused
			code, b := get(t, health.Handler(l, func() string { return paused }))
			if code != tc.code || b.Receiving != tc.receiving || !strings.Contains(b.Reason, tc.reason) {
				t.Fatalf("got %d %+v, want %d receiving=%v reason containing %q", code, b, tc.code, tc.receiving, tc.reason)
			}
			if (code == 200) != (b.Status == "ok") {
				t.Fatalf("status %q with code %d", b.Status, code)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	l := health.NewLiveness(time.Minute, nil)
	srv := httptest.NewServer(health.Handler(l, func() string { return "" }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	ctx := context.Background()

	if err := health.Probe(ctx, srv.Listener.Addr().String()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("probe of a loop that has not started: %v, want a 503 error", err)
	}
	l.Beat()
	for _, addr := range []string{srv.Listener.Addr().String(), ":" + port, "0.0.0.0:" + port} {
		if err := health.Probe(ctx, addr); err != nil {
			t.Fatalf("probe %s of a healthy worker: %v", addr, err)
		}
	}
	srv.Close()
	if err := health.Probe(ctx, "127.0.0.1:"+port); err == nil {
		t.Fatal("probe of a closed port succeeded")
	}
	if err := health.Probe(ctx, "no-port"); err == nil {
		t.Fatal("probe of a malformed address succeeded")
	}
}
