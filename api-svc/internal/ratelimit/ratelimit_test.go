package ratelimit_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/ratelimit"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

func TestABucketAllowsItsBurstThenItsRate(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := ratelimit.NewWithClock(func() time.Time { return now })
	a, b := uuid.New(), uuid.New()
	limit := gift.RateLimit{PerSecond: 2, Burst: 5}

	for i := range 5 {
		if ok, _ := l.Allow(a, limit); !ok {
			t.Fatalf("request %d of a burst of 5 refused", i+1)
		}
	}
	ok, wait := l.Allow(a, limit)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("6th request at once: allowed %v, wait %v; want refused, 500ms (one token at 2/s)", ok, wait)
	}
	if got := ratelimit.RetryAfterSeconds(wait); got != 1 {
		t.Fatalf("Retry-After for 500ms = %d, want 1 (whole seconds, rounded up)", got)
	}
	if ok, _ := l.Allow(b, limit); !ok {
		t.Fatal("another client's bucket is its own")
	}

	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow(a, limit); !ok {
		t.Fatal("after 500ms at 2/s one token is back")
	}
	if ok, _ := l.Allow(a, limit); ok {
		t.Fatal("and only one")
	}

	now = now.Add(time.Hour)
	allowed := 0
	for range 10 {
		if ok, _ := l.Allow(a, limit); ok {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("after an hour idle %d requests allowed at once, want the burst, 5", allowed)
	}

	// A lower limit applies at once; tokens beyond the new burst are not kept.
	now = now.Add(time.Hour)
	if ok, _ := l.Allow(a, gift.RateLimit{PerSecond: 1, Burst: 1}); !ok {
		t.Fatal("burst 1: the first request")
	}
	if ok, wait := l.Allow(a, gift.RateLimit{PerSecond: 1, Burst: 1}); ok || ratelimit.RetryAfterSeconds(wait) != 1 {
		t.Fatalf("burst 1: the second request at once allowed %v, wait %v", ok, wait)
	}
}

func TestRetryAfterSecondsRoundsUp(t *testing.T) {
	for _, c := range []struct {
		wait time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {10 * time.Second, 10}} {
		if got := ratelimit.RetryAfterSeconds(c.wait); got != c.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", c.wait, got, c.want)
		}
	}
}
