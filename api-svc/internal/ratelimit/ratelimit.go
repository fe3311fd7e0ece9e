// Package ratelimit limits each API client's request rate with a token bucket per client, kept in
// the process: with N API tasks behind the load balancer a client gets about N times its limit
// in all (docs/clients-2.0.md, "Rate limits").
package ratelimit

import (
	"math"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// maxBuckets bounds the buckets kept; beyond it, full buckets (idle clients) are dropped, which
// changes nothing for them (a new bucket starts full).
const maxBuckets = 10000

// Limiter holds a bucket per client. It is safe for concurrent use.
type Limiter struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets map[uuid.UUID]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter on the wall clock.
func New() *Limiter { return NewWithClock(time.Now) }

// NewWithClock returns a limiter reading time from now.
func NewWithClock(now func() time.Time) *Limiter {
	return &Limiter{now: now, buckets: make(map[uuid.UUID]*bucket)}
}

// Allow takes a token from client's bucket, whose rate and size are limit (they may change
// between calls: the client's settings are re-read as its key is). When the bucket is empty it
// answers false and how long until a token is there.
func (l *Limiter) Allow(client uuid.UUID, limit gift.RateLimit) (bool, time.Duration) {
	now := l.now()
	burst := float64(max(limit.Burst, 1))
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[client]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.dropFull(now)
		}
		b = &bucket{tokens: burst, last: now}
		l.buckets[client] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(burst, b.tokens+elapsed*limit.PerSecond)
		b.last = now
	}
	b.tokens = math.Min(b.tokens, burst)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / limit.PerSecond * float64(time.Second))
	return false, wait
}

func (l *Limiter) dropFull(now time.Time) {
	for id, b := range l.buckets {
		// A bucket idle for a minute is full at any rate a client would be given.
		if now.Sub(b.last) > time.Minute {
			delete(l.buckets, id)
		}
	}
}

// RetryAfterSeconds is wait as the whole seconds of a Retry-After header: rounded up, at least 1.
func RetryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
