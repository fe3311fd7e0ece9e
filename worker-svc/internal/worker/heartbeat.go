package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/work"
)

// heartbeat keeps the message hidden while it is in hand (a slow send, or a wait for the
// database), renewing its visibility every third of the visibility timeout, and with it the lease of
// the attempt the job is running, so no other delivery begins one meanwhile. stop waits for a
// renewal under way to finish, so it cannot land after the outcome is settled.
func (w *Worker) heartbeat(j *work.Job) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	every := max(w.cfg.Visibility/3, 100*time.Millisecond)
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), every)
			err := w.Queue.ChangeVisibility(ctx, j.Received.ReceiptHandle, w.cfg.Visibility)
			if err != nil {
				j.Logger().Warn("heartbeat failed: the message may be delivered again while in hand",
					slog.String(logging.KeyStatus, string(gift.StatusQueued)), slog.String(logging.KeyErrorCode, CodeQueueUnavailable), logging.Err(err))
			}
			if a, ok := j.Leased(); ok {
				// While the database is down this fails; the attempt goes on and its outcome is
				// stored once the database is back (the lease only keeps other deliveries waiting).
				if _, err := w.Store.RenewAttempt(ctx, a, w.cfg.Visibility); err != nil {
					j.Logger().Debug("attempt lease not renewed", slog.String(logging.KeyStatus, string(gift.StatusQueued)), logging.Err(err))
				}
			}
			cancel()
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}
