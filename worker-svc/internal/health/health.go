// Package health tells ECS whether the worker is alive: a liveness record the receive loop
// updates, the /healthz endpoint that reports it, and the probe behind `worker healthcheck` (the
// image has no shell or curl, so the container health check runs the binary itself).
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Liveness records that the receive loop is still turning. The loop beats at least every few
// seconds whatever it is doing (long-polling, waiting for a free slot, paused for the database);
// when it has not beaten for MaxSilence it is stuck, and when it has ended it is dead.
type Liveness struct {
	maxSilence time.Duration
	now        func() time.Time

	mu       sync.Mutex
	last     time.Time
	started  bool
	stopping bool
	ended    bool
}

// NewLiveness returns a liveness record that reports stuck after maxSilence without a beat. now is
// the clock (time.Now when nil).
func NewLiveness(maxSilence time.Duration, now func() time.Time) *Liveness {
	if now == nil {
		now = time.Now
	}
	return &Liveness{maxSilence: maxSilence, now: now}
}

// Beat records that the loop is alive.
func (l *Liveness) Beat() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last, l.started = l.now(), true
}

// Stopping records that the worker is shutting down on purpose: still healthy while it drains.
func (l *Liveness) Stopping() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopping = true
}

// Ended records that the loop has returned.
func (l *Liveness) Ended() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ended = true
}

// Check returns nil while the loop is alive, or why it is not.
func (l *Liveness) Check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.stopping:
		return nil
	case l.ended:
		return fmt.Errorf("the receive loop has ended")
	case !l.started:
		return fmt.Errorf("the receive loop has not started")
	}
	if silent := l.now().Sub(l.last); silent > l.maxSilence {
		return fmt.Errorf("the receive loop has made no progress for %s (limit %s)", silent.Round(time.Second), l.maxSilence)
	}
	return nil
}

// Draining reports whether the worker is shutting down.
func (l *Liveness) Draining() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopping
}

// Paused says why receiving is paused while the worker is alive ("" when it is not).
type Paused func() string

// Body is the JSON answer of /healthz.
type Body struct {
	Status    string `json:"status"`           // "ok" or "unhealthy"
	Receiving bool   `json:"receiving"`        // taking messages off the queue right now
	Reason    string `json:"reason,omitempty"` // why unhealthy, or why not receiving
}

// Handler serves GET /healthz: 200 while the loop is alive (receiving, or paused because the
// database is down, which is said in the body: restarting the task would not help), 503 when it is
// stuck or dead.
func Handler(l *Liveness, paused Paused) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		b, code := Body{Status: "ok", Receiving: true}, http.StatusOK
		switch err := l.Check(); {
		case err != nil:
			b, code = Body{Status: "unhealthy", Reason: err.Error()}, http.StatusServiceUnavailable
		case l.Draining():
			b.Receiving, b.Reason = false, "shutting down: finishing the messages in hand"
		default:
			if why := paused(); why != "" {
				b.Receiving, b.Reason = false, "receiving paused: "+why
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(b)
	})
	return mux
}

// Probe asks http://addr/healthz and returns nil on 200. addr is the listen address
// (WORKER_HEALTH_ADDR); an unspecified host (":8081", "0.0.0.0:8081") reaches the local machine.
func Probe(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("health address %q: %w", addr, err)
	}
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build health request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}
