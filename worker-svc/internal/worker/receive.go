package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

// receiveMargin is how long a receive may take beyond its long-poll wait (the request and the
// answer themselves) before it is abandoned as hung.
const receiveMargin = 10 * time.Second

// receiveLoop receives as many messages as there are free slots, while the database is reachable,
// and starts one goroutine per message, until ctx ends.
func (w *Worker) receiveLoop(ctx, inHand context.Context, slots chan struct{}, inflight *sync.WaitGroup) {
	retry := time.Second
	for {
		w.Liveness.Beat()
		if ctx.Err() != nil {
			return
		}
		if !w.takeSlot(ctx, slots) {
			return
		}
		if !w.waitForDatabase(ctx) || ctx.Err() != nil {
			<-slots
			return
		}
		n := 1
		for n < 10 && tryTake(slots) {
			n++
		}
		msgs, err := w.receive(inHand, n)
		for range n - len(msgs) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil || inHand.Err() != nil {
				return
			}
			w.Log.Warn("receive failed: trying again", slog.String(logging.KeyStatus, "RUNNING"),
				slog.String(logging.KeyErrorCode, CodeQueueUnavailable), logging.Err(err), slog.Duration("retry_in", retry))
			if !pause(ctx, retry) {
				return
			}
			retry = min(2*retry, 30*time.Second)
			continue
		}
		retry = time.Second
		for _, m := range msgs {
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				defer func() { <-slots }()
				w.handle(inHand, m)
			}()
		}
	}
}

// receive long-polls for up to n messages. Its context is the in-flight work's (inHand, see Run),
// bounded so a hung connection cannot stall the loop.
func (w *Worker) receive(inHand context.Context, n int) ([]queue.Received, error) {
	ctx, cancel := context.WithTimeout(inHand, receiveTimeout(w.cfg.Wait))
	defer cancel()
	return w.Queue.Receive(ctx, n, w.cfg.Wait, w.cfg.Visibility)
}

// receiveTimeout bounds a receive whose long-poll wait is wait. A wait of 0 is left out of the
// request, so the queue's own ReceiveMessageWaitTimeSeconds applies, which may be anything up to
// SQS's longest (queue.MaxWait): the bound must cover that, or the poll is abandoned while SQS still
// holds it open, and a message it then hands out stays hidden with an attempt spent.
func receiveTimeout(wait time.Duration) time.Duration {
	if wait <= 0 {
		wait = queue.MaxWait
	}
	return wait + receiveMargin
}

// takeSlot blocks until a processing slot is free (true) or ctx ends (false), beating the liveness
// record meanwhile: waiting for slow messages is not being stuck.
func (w *Worker) takeSlot(ctx context.Context, slots chan struct{}) bool {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case slots <- struct{}{}:
			return true
		case <-ctx.Done():
			return false
		case <-t.C:
			w.Liveness.Beat()
		}
	}
}

func tryTake(slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// waitForDatabase blocks while the database is unreachable (true once it is back, false when ctx
// ends), beating the liveness record: a worker paused for the database is alive.
func (w *Worker) waitForDatabase(ctx context.Context) bool {
	for {
		w.Liveness.Beat()
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		err := w.Gate.Wait(wctx)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
	}
}

func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
