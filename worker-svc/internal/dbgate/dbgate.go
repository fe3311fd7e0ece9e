// Package dbgate tracks whether PostgreSQL can be reached, so the worker stops taking messages off
// the queue while it cannot (an outage must not use up a message's delivery attempts), holds the
// store calls under way until it answers again (Gate.Do), and resumes as soon as it does.
package dbgate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
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

// Do runs op, and while it fails because the database cannot be reached, closes the
// gate (which pauses receiving), waits for the database and runs op again. It returns op's
// result, or ctx's error at shutdown.
//
// Only a failure to reach the database counts as an outage: a refused, reset or lost connection,
// or a statement that ran out of time (DB_QUERY_TIMEOUT) while the database does not answer a ping
// either. A statement that ran out of time while the ping answers was slow on its own (a lock wait):
// its error is returned and fails this attempt, like any other statement error.
//
// During an outage the messages in hand are held, not released. Every receive increments a
// message's ApproximateReceiveCount, and the receive after the maxReceiveCount-th moves it to the
// DLQ, so:
//   - releasing (visibility 0) spends the receive that brought the message in: it comes back with
//     one attempt fewer after every outage, or every flap of one, and a message on its last attempt
//     goes to the DLQ with its gift still QUEUED because of the outage alone;
//   - holding (the heartbeat keeps renewing its visibility, which is not a receive) spends nothing:
//     when the database answers again the message continues from the step that failed, on the same
//     attempt, at once rather than after a visibility timeout.
//
// Holding costs little: at most Concurrency messages are held, receiving stops so no more are
// taken, and if this worker dies meanwhile SQS redelivers them after one visibility timeout, as for
// any crash. An outage longer than SQS's 12-hour visibility limit makes the heartbeat fail and the
// message is delivered again, one attempt spent. Held messages are released at shutdown (the
// budget ends ctx). This is not a retry of the send: nothing had been decided when op failed.
func (g *Gate) Do(ctx context.Context, op func(context.Context) error) error {
	for {
		if err := g.Wait(ctx); err != nil {
			return fmt.Errorf("wait for the database: %w", err)
		}
		err := op(ctx)
		if err == nil || ctx.Err() != nil || !isUnavailable(err) {
			return err
		}
		if timedOut(err) {
			if g.Check(ctx) == nil {
				// The database answers: this one statement was slow (a lock wait, a heavy query),
				// and it fails this message's attempt only instead of pausing the whole worker.
				return err
			}
			if ctx.Err() != nil {
				return err
			}
			continue // the failed ping has closed the gate
		}
		g.Close(err)
	}
}

func isUnavailable(err error) bool { return errors.Is(err, gift.ErrUnavailable) }

// timedOut reports whether a store call failed because it ran out of time (the store bounds every
// call with DB_QUERY_TIMEOUT), as opposed to a connection that failed outright.
func timedOut(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
