package dbgate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/dbgate"
)

// database stands for PostgreSQL as the gate sees it: a ping that fails while it is down.
type database struct{ down atomic.Bool }

func (d *database) ping(context.Context) error {
	if d.down.Load() {
		return errors.New("connection refused")
	}
	return nil
}

// comeBackAfter brings the database back after d.
func (d *database) comeBackAfter(dur time.Duration) {
	time.AfterFunc(dur, func() { d.down.Store(false) })
}

func runningGate(t *testing.T, db *database) (*dbgate.Gate, *testenv.LogBuffer) {
	t.Helper()
	var logs testenv.LogBuffer
	g := dbgate.New(db.ping, 5*time.Millisecond, logging.New(&logs, "worker", 0))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go g.Run(ctx)
	waitOpen(t, g)
	return g, &logs
}

// An op that finds the database unreachable closes the gate, waits for it and runs again: the
// caller sees the second run's answer, not the outage.
func TestDoRunsAgainOnceTheDatabaseIsBack(t *testing.T) {
	for name, lost := range map[string]error{
		"connection lost":                    fmt.Errorf("mark sent: %w", gift.Unavailable(errors.New("connection reset by peer"))),
		"timed out while the ping fails too": fmt.Errorf("mark sent: %w", gift.Unavailable(context.DeadlineExceeded)),
	} {
		t.Run(name, func(t *testing.T) {
			db := &database{}
			g, logs := runningGate(t, db)
			var calls atomic.Int64
			err := g.Do(context.Background(), func(context.Context) error {
				if calls.Add(1) == 1 {
					db.down.Store(true)
					db.comeBackAfter(50 * time.Millisecond)
					return lost
				}
				return nil
			})
			if err != nil || calls.Load() != 2 {
				t.Fatalf("Do = %v after %d runs, want nil after 2", err, calls.Load())
			}
			if n := strings.Count(logs.String(), `"error_code":"DB_UNAVAILABLE"`); n != 1 {
				t.Fatalf("DB_UNAVAILABLE logged %d times, want once:\n%s", n, logs.String())
			}
		})
	}
}

// A statement that timed out (the store marks it unavailable, as it cannot tell) while the
// database answers was slow on its own: its error fails the caller's attempt at once, and the
// gate stays open for everyone else.
func TestDoReturnsASlowStatementsErrorWhileTheDatabaseAnswers(t *testing.T) {
	g, logs := runningGate(t, &database{})
	slow := fmt.Errorf("mark sent: %w", gift.Unavailable(context.DeadlineExceeded))
	var calls atomic.Int64
	err := g.Do(context.Background(), func(context.Context) error { calls.Add(1); return slow })
	if !errors.Is(err, slow) || calls.Load() != 1 || !g.State().Open {
		t.Fatalf("Do = %v after %d runs, gate %+v; want the statement's error after 1 run, gate open", err, calls.Load(), g.State())
	}
	if strings.Contains(logs.String(), "DB_UNAVAILABLE") {
		t.Fatalf("a slow statement paused receiving:\n%s", logs.String())
	}
}

// Any other error is the op's answer: returned as is, the op run once, the gate left open.
func TestDoReturnsOtherErrorsAtOnce(t *testing.T) {
	g, _ := runningGate(t, &database{})
	var calls atomic.Int64
	err := g.Do(context.Background(), func(context.Context) error { calls.Add(1); return gift.ErrNotFound })
	if !errors.Is(err, gift.ErrNotFound) || calls.Load() != 1 || !g.State().Open {
		t.Fatalf("Do = %v after %d runs, gate %+v", err, calls.Load(), g.State())
	}
}

// While the database stays down, Do holds the op until its context ends (the shutdown budget).
func TestDoGivesUpWhenItsContextEnds(t *testing.T) {
	db := &database{}
	g, _ := runningGate(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var calls atomic.Int64
	err := g.Do(ctx, func(context.Context) error {
		calls.Add(1)
		db.down.Store(true)
		return gift.ErrUnavailable
	})
	if !errors.Is(err, context.DeadlineExceeded) || calls.Load() != 1 {
		t.Fatalf("Do = %v after %d runs, want the context's error after 1 run", err, calls.Load())
	}
}
