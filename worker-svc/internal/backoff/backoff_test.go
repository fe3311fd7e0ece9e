package backoff_test

import (
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/backoff"
)

func TestDelay(t *testing.T) {
	const s = time.Second
	for _, tc := range []struct {
		name      string
		attempt   int
		base, max time.Duration
		want      time.Duration
	}{
		{"first failure waits the base", 1, 10 * s, 5 * time.Minute, 10 * s},
		{"second failure doubles it", 2, 10 * s, 5 * time.Minute, 20 * s},
		{"fourth failure is eight times the base", 4, 10 * s, 5 * time.Minute, 80 * s},
		{"the cap holds", 6, 10 * s, 5 * time.Minute, 5 * time.Minute},
		{"a huge attempt number neither overflows nor passes the cap", 1000, 10 * s, 5 * time.Minute, 5 * time.Minute},
		{"local run base of one second", 4, s, 5 * time.Minute, 8 * s},
		{"a cap that is not a doubling of the base is used as is", 3, 10 * s, 25 * s, 25 * s},
		{"sub-second base rounds up to whole seconds", 1, 300 * time.Millisecond, time.Minute, s},
		{"rounding happens after doubling", 3, 300 * time.Millisecond, time.Minute, 2 * s},
		{"a cap below one second still rounds up to one", 5, 100 * time.Millisecond, 500 * time.Millisecond, s},
		{"attempt zero (count not reported) waits the base", 0, 10 * s, time.Minute, 10 * s},
		{"zero base retries at once", 3, 0, time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := backoff.Delay(tc.attempt, tc.base, tc.max); got != tc.want {
				t.Fatalf("Delay(%d, %s, %s) = %s, want %s", tc.attempt, tc.base, tc.max, got, tc.want)
			}
		})
	}
}
