package tracing

import (
	"math/rand/v2"
	"sync"
	"time"
)

// RequestSampler decides, before a request's span starts, whether the request gets one (head
// sampling): every request while the task serves at most perSecond requests a second; above that a
// random share of them, set each second from the second before, so that about perSecond spans a
// second are started whatever the load. Within a second the share also falls as requests arrive
// (at most perSecond over the requests so far), so that a burst after a quiet spell starts about
// perSecond × (1 + ln(burst/perSecond)) spans in its first second rather than one per request. A request it leaves out costs dd-trace-go nothing: no span
// is started, tagged, sampled, counted or dropped. That was a fifth of the API's CPU at saturation
// (docs/observability.md, "Overhead").
//
// What it keeps the numbers true:
//   - a sampled request's span carries the share it was sampled at as _sample_rate, the key
//     Datadog's Agent weighs a trace by when it computes APM's trace metrics (hits, errors,
//     latency): a span kept at 1 in 20 counts 20 times. The Agent computes them, not the tracer
//     (Config.RequestsPerSecond): dd-trace-go's client-side stats count each span once.
//   - a request that fails is recorded whether sampled or not (Request.Finish) and weighs 1, so
//     errors are counted exactly and every failure has its trace.
//
// The API's own request metrics (gift.api.requests) count every request; the SLOs read those.
type RequestSampler struct {
	perSecond float64
	now       func() time.Time
	draw      func() float64 // uniform in [0, 1)

	mu    sync.Mutex
	since time.Time // start of the current second
	seen  int       // requests since then
	rate  float64   // the share sampled in the current second, from the second before
}

// NewRequestSampler samples about perSecond requests a second (all of them below that).
func NewRequestSampler(perSecond int) *RequestSampler {
	return &RequestSampler{perSecond: float64(max(perSecond, 1)), now: time.Now, draw: rand.Float64, rate: 1}
}

// sample decides for one request: whether it is sampled, and the share of requests sampled when
// it was decided (1: all).
func (s *RequestSampler) sample() (bool, float64) {
	now := s.now()
	s.mu.Lock()
	if elapsed := now.Sub(s.since); elapsed >= time.Second {
		s.rate = 1
		if perSecond := float64(s.seen) / elapsed.Seconds(); perSecond > s.perSecond {
			s.rate = s.perSecond / perSecond
		}
		s.since, s.seen = now, 0
	}
	s.seen++
	rate := min(s.rate, s.perSecond/float64(s.seen))
	s.mu.Unlock()
	return rate >= 1 || s.draw() < rate, rate
}
