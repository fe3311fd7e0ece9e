package send_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/send"
)

func count(p *send.Pseudo, n int, force bool) (failed int) {
	for range n {
		if err := p.Send(context.Background(), queue.Message{GiftID: uuid.New(), RequestID: "k", ForceFailure: force}); err != nil {
			failed++
		}
	}
	return failed
}

func TestPseudo(t *testing.T) {
	t.Run("rate zero never fails", func(t *testing.T) {
		if n := count(send.NewPseudo(0, 0, rand.NewPCG(1, 2)), 1000, false); n != 0 {
			t.Fatalf("%d failures", n)
		}
	})
	t.Run("rate one always fails", func(t *testing.T) {
		if n := count(send.NewPseudo(1, 0, rand.NewPCG(1, 2)), 1000, false); n != 1000 {
			t.Fatalf("%d failures of 1000", n)
		}
	})
	t.Run("force_failure fails at rate zero with ErrForced", func(t *testing.T) {
		err := send.NewPseudo(0, 0, nil).Send(context.Background(), queue.Message{GiftID: uuid.New(), RequestID: "k", ForceFailure: true})
		if !errors.Is(err, send.ErrForced) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("the same seed gives the same failures", func(t *testing.T) {
		a, b := send.NewPseudo(0.2, 0, rand.NewPCG(7, 7)), send.NewPseudo(0.2, 0, rand.NewPCG(7, 7))
		for i := range 500 {
			m := queue.Message{GiftID: uuid.New(), RequestID: "k"}
			if ea, eb := a.Send(context.Background(), m), b.Send(context.Background(), m); (ea == nil) != (eb == nil) {
				t.Fatalf("draw %d differs: %v vs %v", i, ea, eb)
			}
		}
	})
	t.Run("rate 0.2 fails about a fifth of the time", func(t *testing.T) {
		// Deterministic seed: a fixed count, checked loosely so the test states the intent.
		n := count(send.NewPseudo(0.2, 0, rand.NewPCG(42, 42)), 10000, false)
		if n < 1800 || n > 2200 {
			t.Fatalf("%d failures of 10000 at rate 0.2", n)
		}
	})
	t.Run("a cancelled context ends the latency early with its cause", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := errors.New("shutting down")
		cancel(stop)
		err := send.NewPseudo(0, time.Hour, nil).Send(ctx, queue.Message{GiftID: uuid.New(), RequestID: "k"})
		if !errors.Is(err, stop) {
			t.Fatalf("got %v", err)
		}
	})
}
