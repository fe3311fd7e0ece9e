package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
)

// errShutdownBudget ends in-flight work that the shutdown budget could not wait for.
var errShutdownBudget = errors.New("shutdown budget spent")

// budget is the time in-flight work gets once ctx ends (ShutdownTimeout).
//
// A long poll already under way when ctx ends is not cancelled: SQS (and the emulator) still hands
// messages to an abandoned poll, which would hide them for a whole visibility timeout and spend one
// of their attempts. It is left to return (within Wait), and what it brings is processed like the
// rest of the in-flight work. It is cut off only when the budget is spent.
type budget struct {
	allDone chan struct{} // closed once in-flight work has finished
	done    chan struct{} // closed once the budget's goroutine has returned
}

// startBudget waits for ctx to end, then gives in-flight work ShutdownTimeout before ending it with
// stop(errShutdownBudget).
func (w *Worker) startBudget(ctx context.Context, stop context.CancelCauseFunc) *budget {
	b := &budget{allDone: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		select {
		case <-ctx.Done():
		case <-b.allDone:
			return
		}
		// Said at once, so whoever stopped the worker knows why it has not exited yet.
		w.Log.Info("stop requested: no new receives; the long poll under way may take up to its wait time to return",
			slog.String(logging.KeyStatus, "STOP_REQUESTED"), slog.Duration("budget", w.cfg.ShutdownTimeout))
		t := time.NewTimer(w.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			stop(errShutdownBudget)
		case <-b.allDone:
		}
	}()
	return b
}

// drain runs once receiving has stopped: it waits for the messages in hand (each finished, or
// released when the budget is spent) and reports the worker ended.
func (w *Worker) drain(b *budget, slots chan struct{}, inflight *sync.WaitGroup) {
	w.Liveness.Stopping()
	w.Log.Info("shutting down: receiving stopped, finishing the messages in hand",
		slog.String(logging.KeyStatus, "STOPPING"), slog.Int("in_flight", len(slots)),
		slog.Duration("budget", w.cfg.ShutdownTimeout))
	inflight.Wait()
	close(b.allDone)
	<-b.done
	w.Liveness.Ended()
	w.Log.Info("shutdown complete", slog.String(logging.KeyStatus, "STOPPED"))
}
