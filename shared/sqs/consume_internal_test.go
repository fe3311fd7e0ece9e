package sqs

import (
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

func TestSecondsRoundsUpWithinSQSLimits(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want int32
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Millisecond, 1},
		{time.Second, 1},
		{1200 * time.Millisecond, 2},
		{30 * time.Second, 30},
		{queue.MaxVisibility, 43200},
		{48 * time.Hour, 43200},
	} {
		if got := seconds(tc.in); got != tc.want {
			t.Errorf("seconds(%s) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
