// Package send is the pseudo send (docs/requirements.md §5.1.2): no real e-mail or SMS, a simulated latency
// and a failure at random, or always when the message asks for it.
package send

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

// ErrForced is the failure of a message with force_failure=true.
var ErrForced = errors.New("forced failure requested by the send request (force_failure=true)")

// ErrRandom is a failure drawn at random with the configured failure rate.
var ErrRandom = errors.New("simulated delivery failure")

// Sender delivers one gift. An error is a failed attempt; the caller decides about retries.
type Sender interface {
	Send(ctx context.Context, m queue.Message) error
}

// Pseudo fails at random with FailureRate, always when ForceFailure is set, and takes Latency
// either way.
type Pseudo struct {
	failureRate float64
	latency     time.Duration

	mu   sync.Mutex
	rand *rand.Rand
}

// NewPseudo returns a pseudo sender. src is the random source, injected so tests are
// deterministic; nil draws a random seed.
func NewPseudo(failureRate float64, latency time.Duration, src rand.Source) *Pseudo {
	// A simulated failure rate is not a security decision: math/rand is the right tool.
	if src == nil {
		src = rand.NewPCG(rand.Uint64(), rand.Uint64()) //nolint:gosec // simulation, not security
	}
	return &Pseudo{failureRate: failureRate, latency: latency, rand: rand.New(src)} //nolint:gosec // simulation, not security
}

// Send waits the simulated latency (returning early with ctx's error when ctx ends), then fails
// or succeeds.
func (p *Pseudo) Send(ctx context.Context, m queue.Message) error {
	if p.latency > 0 {
		t := time.NewTimer(p.latency)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("send gift %s: %w", m.GiftID, context.Cause(ctx))
		case <-t.C:
		}
	}
	if m.ForceFailure {
		return fmt.Errorf("send gift %s: %w", m.GiftID, ErrForced)
	}
	if p.fails() {
		return fmt.Errorf("send gift %s: %w", m.GiftID, ErrRandom)
	}
	return nil
}

func (p *Pseudo) fails() bool {
	if p.failureRate <= 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rand.Float64() < p.failureRate
}
