package gift_test

import (
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// The one rule every consumer of a queue message follows.
func TestJudge(t *testing.T) {
	queued := gift.SendState{Status: gift.StatusQueued, RequestExists: true, Series: 1, Attempts: 2}
	with := func(f func(*gift.SendState)) gift.SendState { st := queued; f(&st); return st }
	tests := []struct {
		name   string
		st     gift.SendState
		series int
		want   gift.Verdict
	}{
		{"current series with attempts left begins one", queued, 1, gift.VerdictAttempt},
		{"an earlier series is superseded", queued, 0, gift.VerdictSuperseded},
		{"an earlier series is superseded even for a finished gift", with(func(s *gift.SendState) { s.Status = gift.StatusFailed }), 0, gift.VerdictSuperseded},
		{"a later series is unknown", queued, 2, gift.VerdictUnknown},
		{"no send request is unknown", with(func(s *gift.SendState) { s.RequestExists = false }), 1, gift.VerdictUnknown},
		{"a SENT gift is finished", with(func(s *gift.SendState) { s.Status = gift.StatusSent }), 1, gift.VerdictFinished},
		{"a FAILED gift is finished", with(func(s *gift.SendState) { s.Status = gift.StatusFailed }), 1, gift.VerdictFinished},
		{"a CREATED gift is unknown", with(func(s *gift.SendState) { s.Status = gift.StatusCreated }), 1, gift.VerdictUnknown},
		{"a live lease means running", with(func(s *gift.SendState) { s.LeaseLeft = time.Second }), 1, gift.VerdictRunning},
		{"a live lease on the last attempt is still running", with(func(s *gift.SendState) { s.Attempts, s.LeaseLeft = 5, time.Second }), 1, gift.VerdictRunning},
		{"every attempt begun, none running, is exhausted", with(func(s *gift.SendState) { s.Attempts = 5 }), 1, gift.VerdictExhausted},
		{"the last attempt left may begin", with(func(s *gift.SendState) { s.Attempts = 4 }), 1, gift.VerdictAttempt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.st.Judge(tt.series, 5); got != tt.want {
				t.Fatalf("Judge(%d, 5) of %+v = %s, want %s", tt.series, tt.st, got, tt.want)
			}
		})
	}
}
