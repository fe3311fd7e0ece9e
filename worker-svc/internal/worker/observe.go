package worker

import (
	"strconv"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/work"
)

// Metrics receives the worker's counters and distributions (dogstatsd.Client);
// docs/observability.md, "Metric catalogue".
type Metrics interface {
	Count(name string, value int64, tags ...string)
	Distribution(name string, value float64, tags ...string)
}

// FreshWithin is the freshness SLO's bound: a send SENT within it of being accepted is fresh
// (docs/requirements.md §8.1: 95 % SENT within 5 minutes).
const FreshWithin = 5 * time.Minute

// Results of a processed message, the outcome tag of gift.worker.results.
const (
	resultSent        = "sent"
	resultRetried     = "retried"
	resultFailed      = "failed"
	resultDuplicate   = "duplicate"
	resultInvalid     = "invalid"     // not a send request, or an unknown gift or send request
	resultInterrupted = "interrupted" // shutdown released it before it was finished
	resultSuperseded  = "superseded"  // a message of an earlier attempt series, deleted without effect
	resultWaiting     = "waiting"     // another delivery's attempt was running: it comes back after it
)

// resultOf names what the decision o did with a message.
func resultOf(o work.Outcome) string {
	switch {
	case o.Status == work.StatusSuperseded:
		return resultSuperseded
	case o.Waiting:
		return resultWaiting
	case o.Duplicate || o.Status == work.StatusNotStored:
		return resultDuplicate
	case o.Action == work.Retry:
		return resultRetried
	case o.Status == string(gift.StatusSent):
		return resultSent
	case o.Status == string(gift.StatusFailed):
		return resultFailed
	case o.Status == work.StatusInvalid || o.Status == work.StatusUnknown:
		return resultInvalid
	default:
		return resultInterrupted
	}
}

// observe reports one processed message: its span's tags and error, and the result metrics (the
// freshness SLO counts sent and failed sends, tag fresh from the time the API accepted them).
func (w *Worker) observe(span *tracer.Span, m queue.Received, msg queue.Message, o work.Outcome, attempt int, start time.Time) {
	result := resultOf(o)
	if span != nil {
		span.SetTag("outcome", result)
		span.SetTag(keyReceiveCount, m.ReceiveCount)
		if attempt > 0 {
			span.SetTag(work.KeyAttempt, attempt)
		}
		if msg.RequestID != "" {
			span.SetTag(logging.KeyGiftID, msg.GiftID.String())
			span.SetTag(logging.KeyRequestID, msg.RequestID)
		}
		if msg.CorrelationID != "" {
			span.SetTag(logging.KeyCorrelationID, msg.CorrelationID)
		}
		if result == resultFailed || result == resultInvalid {
			span.SetTag("error.message", o.Status)
			span.SetTag("error", true)
		}
	}
	if w.Metrics == nil {
		return
	}
	outcome := "outcome:" + result
	w.Metrics.Distribution("gift.worker.attempt.duration", time.Since(start).Seconds(), outcome)
	switch result {
	case resultSent, resultFailed:
		fresh := false
		if !msg.AcceptedAt.IsZero() {
			age := time.Since(msg.AcceptedAt)
			fresh = result == resultSent && age <= FreshWithin
			w.Metrics.Distribution("gift.worker.send.age", age.Seconds(), outcome)
		}
		w.Metrics.Count("gift.worker.results", 1, outcome, "fresh:"+strconv.FormatBool(fresh))
		if result == resultSent {
			w.Metrics.Distribution("gift.worker.receive_count", float64(m.ReceiveCount))
		}
	default:
		w.Metrics.Count("gift.worker.results", 1, outcome)
	}
}
