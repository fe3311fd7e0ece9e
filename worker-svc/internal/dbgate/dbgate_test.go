package dbgate_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/dbgate"
)

func waitOpen(t *testing.T, g *dbgate.Gate) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Wait(ctx); err != nil {
		t.Fatalf("gate did not open: %v", err)
	}
}

func TestGate(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	ping := func(context.Context) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}
	var logs testenv.LogBuffer
	g := dbgate.New(ping, 5*time.Millisecond, logging.New(&logs, "worker", 0))

	if g.State().Open {
		t.Fatal("a new gate is open before the database answered")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Run(ctx)

	// Closed while pings fail: Wait gives up with the context.
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	err := g.Wait(short)
	cancelShort()
	if err == nil {
		t.Fatal("Wait returned while every ping fails")
	}
	if st := g.State(); st.Open || !strings.Contains(st.Reason, "connection refused") {
		t.Fatalf("state while down: %+v", st)
	}

	down.Store(false)
	waitOpen(t, g)

	// A caller's failure closes it at once; the next successful ping opens it again.
	down.Store(true)
	g.Close(errors.New("query failed: connection reset"))
	g.Close(errors.New("again"))
	if g.State().Open {
		t.Fatal("Close left the gate open")
	}
	down.Store(false)
	waitOpen(t, g)

	out := logs.String()
	if n := strings.Count(out, `"error_code":"DB_UNAVAILABLE"`); n != 2 {
		t.Fatalf("DB_UNAVAILABLE logged %d times, want once per outage (2):\n%s", n, out)
	}
	if n := strings.Count(out, "receiving resumed"); n != 2 {
		t.Fatalf("resume logged %d times, want 2:\n%s", n, out)
	}
}

// Check answers with one ping made now (not the last periodic one) and moves the gate with it.
func TestCheckPingsNowAndMovesTheGate(t *testing.T) {
	var down atomic.Bool
	var pings atomic.Int64
	ping := func(context.Context) error {
		pings.Add(1)
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}
	var logs testenv.LogBuffer
	g := dbgate.New(ping, time.Hour, logging.New(&logs, "worker", 0)) // never run: only Check pings
	ctx := context.Background()

	if err := g.Check(ctx); err != nil || !g.State().Open || pings.Load() != 1 {
		t.Fatalf("check of an answering database: %v, state %+v, %d pings", err, g.State(), pings.Load())
	}
	down.Store(true)
	if err := g.Check(ctx); err == nil || g.State().Open || pings.Load() != 2 {
		t.Fatalf("check of a silent database: %v, state %+v, %d pings", err, g.State(), pings.Load())
	}
	down.Store(false)
	if err := g.Check(ctx); err != nil || !g.State().Open {
		t.Fatalf("check after recovery: %v, state %+v", err, g.State())
	}
}
