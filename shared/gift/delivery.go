package gift

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// A send request's deliveries come in attempt series: the client's send is series 0, and each
// operator retry starts the next one (send_requests.retries). Every queue message carries the
// series it was written for ("retry"). Within a series the worker counts the attempts it begins
// (send_requests.attempts): receives of a message are not attempts, since a message can be received
// and released without any send having been tried (a database outage, a shutdown).
//
// Judge is the one rule by which everything that consumes a queue message (the worker, the DLQ
// reconciler) decides what the message may still do; the store's statements repeat its conditions
// in SQL so that a decision taken on a stale read cannot change the gift (docs/architecture.md,
// "Decision: the series decides, attempts are counted where they run").

// SendState is what a consumer of a queue message knows about the message's gift: the gift's
// status and, for the message's send request, its current series, the attempts begun in it and
// whether one is running now.
type SendState struct {
	Status Status
	// RequestExists is false when the gift has no send request with the message's request id.
	RequestExists bool
	// Series is the send request's current attempt series (send_requests.retries).
	Series int
	// Attempts counts the attempts begun in Series (send_requests.attempts).
	Attempts int
	// LeaseLeft is how long the lease of the attempt running now still lasts; zero when none runs.
	LeaseLeft time.Duration
}

// Verdict is what a queue message may still do, by Judge.
type Verdict int

// The verdicts of Judge.
const (
	// VerdictUnknown: no such send request, a series ahead of the gift's (no retry wrote it), or a
	// gift that was never queued. No consumer acts on it; it is left for an operator.
	VerdictUnknown Verdict = iota + 1
	// VerdictSuperseded: the message belongs to an earlier series (an operator retried the gift
	// since). It never changes the gift; consumers drop it.
	VerdictSuperseded
	// VerdictFinished: the gift is SENT or FAILED already; the message is a duplicate.
	VerdictFinished
	// VerdictRunning: another delivery's attempt is running now; this one waits for it to end.
	VerdictRunning
	// VerdictExhausted: every attempt of the series has begun and none is running: the gift is
	// FAILED (its last attempt failed, or crashed before it could say so).
	VerdictExhausted
	// VerdictAttempt: the message may begin the series' next attempt.
	VerdictAttempt
)

// Judge decides what a message of series may do with the gift in state st, when maxAttempts
// attempts are allowed per series.
func (st SendState) Judge(series, maxAttempts int) Verdict {
	switch {
	case !st.RequestExists || series > st.Series:
		return VerdictUnknown
	case series < st.Series:
		return VerdictSuperseded
	case st.Status.Terminal():
		return VerdictFinished
	case st.Status != StatusQueued:
		return VerdictUnknown
	case st.LeaseLeft > 0:
		return VerdictRunning
	case st.Attempts >= maxAttempts:
		return VerdictExhausted
	}
	return VerdictAttempt
}

// String names the verdict for logs and tests.
func (v Verdict) String() string {
	switch v {
	case VerdictUnknown:
		return "unknown"
	case VerdictSuperseded:
		return "superseded"
	case VerdictFinished:
		return "finished"
	case VerdictRunning:
		return "running"
	case VerdictExhausted:
		return "exhausted"
	case VerdictAttempt:
		return "attempt"
	}
	return "invalid"
}

// Series names one attempt series of a send request: what a queue message stands for. Every
// state change a consumer makes is conditional on all three fields.
type Series struct {
	GiftID    uuid.UUID
	RequestID string
	// Retry is the series number (send_requests.retries, the message's "retry").
	Retry int
}

// Attempt is one attempt that has begun: Number counts from 1 within its series.
type Attempt struct {
	Series
	Number int
}

// ExhaustedReason is the last_error of a gift failed because every attempt of its series began
// and none reported success (the last one crashed, or its outcome was lost); found says how it was
// noticed.
func ExhaustedReason(attempts int, found string) string {
	return fmt.Sprintf("delivery attempts exhausted (%d attempts ran): %s", attempts, found)
}
