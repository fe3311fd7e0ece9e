// Package dbgate tracks whether PostgreSQL can be reached, so the worker stops taking messages off
// the queue while it cannot (an outage must not use up a message's delivery attempts) and resumes
// as soon as it answers again.
package dbgate

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
)

// Error code logged when receiving pauses.
const CodeDBUnavailable = "DB_UNAVAILABLE"

// Gate is open while the database answers. It starts closed: nothing is received before the
// database has answered once.
type Gate struct {
	ping     func(context.Context) error
	interval time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	open    bool
	checked bool          // a ping has answered, or failed, at least once
	since   time.Time     // when the gate last opened or closed
	reason  string        // why it is closed
	changed chan struct{} // closed and replaced at every change
}

// New returns a closed gate that Run opens once ping succeeds; ping is retried every interval.
func New(ping func(context.Context) error, interval time.Duration, log *slog.Logger) *Gate {
	return &Gate{ping: ping, interval: interval, log: log, since: time.Now(), reason: "database not checked yet", changed: make(chan struct{})}
}

// Run pings the database every interval until ctx ends, opening the gate on success and closing
// it on failure.
func (g *Gate) Run(ctx context.Context) {
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		if err := g.ping(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			g.Close(err)
		} else {
			g.setOpen()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check pings the database once, now, and opens or closes the gate by the answer, which it
// returns. A caller whose statement timed out asks it whether the database itself is in trouble.
func (g *Gate) Check(ctx context.Context) error {
	err := g.ping(ctx)
	switch {
	case err == nil:
		g.setOpen()
	case ctx.Err() == nil:
		g.Close(err)
	}
	return err
}

// Close closes the gate because of err (the database could not be reached), until the next
// successful ping. Callers that hit gift.ErrUnavailable report it here so receiving stops at once
// rather than at the next ping.
func (g *Gate) Close(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	wasOpen, first := g.open, !g.checked
	g.checked = true
	if !wasOpen && !first {
		return
	}
	g.open, g.since, g.reason = false, time.Now(), "database unavailable: "+err.Error()
	g.broadcast()
	g.log.Warn("database unavailable: receiving paused until it answers again",
		slog.String(logging.KeyStatus, "PAUSED"), slog.String(logging.KeyErrorCode, CodeDBUnavailable), logging.Err(err))
}

func (g *Gate) setOpen() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open {
		return
	}
	wasChecked, closedSince := g.checked, g.since
	g.open, g.checked, g.since, g.reason = true, true, time.Now(), ""
	g.broadcast()
	if wasChecked {
		g.log.Info("database reachable again: receiving resumed", slog.String(logging.KeyStatus, "RUNNING"),
			logging.Since("outage_ms", closedSince))
	}
}

func (g *Gate) broadcast() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// Wait returns nil once the gate is open, or ctx's error if ctx ends first.
func (g *Gate) Wait(ctx context.Context) error {
	for {
		g.mu.Lock()
		open, changed := g.open, g.changed
		g.mu.Unlock()
		if open {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-changed:
		}
	}
}

// State says whether the gate is open, since when, and why not.
type State struct {
	Open   bool
	Since  time.Time
	Reason string
}

// State returns the gate's current state.
func (g *Gate) State() State {
	g.mu.Lock()
	defer g.mu.Unlock()
	return State{Open: g.open, Since: g.since, Reason: g.reason}
}
