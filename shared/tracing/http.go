package tracing

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/ext"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
)

// SpanRequest is the span of one HTTP request served.
const SpanRequest = "http.request"

// sampleRateKey is the metric of a span that says which share of its kind was kept: the Agent
// weighs the span by its inverse in APM's trace metrics (RequestSampler).
const sampleRateKey = "_sample_rate"

// carriesTrace reports whether h holds a trace context in one of the tracer's default extraction
// styles (Datadog's headers, W3C traceparent). Most requests carry none, and Extract walks every
// header of the request for each style to find that out. A style configured in addition
// (DD_TRACE_PROPAGATION_STYLE_EXTRACT=b3...) would need its header added here.
func carriesTrace(h http.Header) bool {
	return h.Get("X-Datadog-Trace-Id") != "" || h.Get("Traceparent") != ""
}

// LinkReason is the "reason" attribute of the span link to a caller's trace context.
const LinkReason = "inbound trace context, not continued"

// Request is the span of one HTTP request served: started at once when the sampler picks the
// request, otherwise only if the request fails (a statement fails, or the answer is a 5xx), then
// late, from the request's start. Make one with StartRequest and end it with Finish.
type Request struct {
	start time.Time
	opts  []tracer.StartSpanOption
	rate  float64 // the share of requests sampled when this one was decided

	mu     sync.Mutex
	span   *tracer.Span // nil until started
	failed bool         // a statement failed (failed)
	done   bool
}

type requestKey struct{}

// StartRequest starts the span of r when sampler picks it (every request with a nil sampler) and
// returns the context the request is served with: it carries the span, if started, and the
// Request, so that a failing statement (pgx.go) can still record itself under a request that was
// not sampled.
//
// The span is always the root of a new trace: the API is public, so a caller's trace context
// (Datadog's headers, W3C traceparent) is never continued. Continuing it would let anyone choose
// the trace id that the outbox row and the queue message then carry to the worker, and the
// sampling decision (x-datadog-sampling-priority: 2 keeps every such trace, at our ingestion
// cost). A caller's context becomes a span link instead (ids only, no sampling flags), so a traced
// caller can still be found from the request (docs/observability.md, "Trace context from
// outside"). Its resource is the method until Finish names the route.
//
// It records what the dashboards, monitors and SLOs read (method, route, status, error) and no
// more: dd-trace-go's net/http integration also records the full URL, host, user agent and client
// IP and runs its AppSec hooks on every request, about a fifth of what tracing a request cost
// (docs/observability.md, "Overhead").
func StartRequest(r *http.Request, sampler *RequestSampler) (*Request, context.Context) {
	q := &Request{start: time.Now(), rate: 1}
	q.opts = requestSpanOptions[r.Method]
	if q.opts == nil {
		q.opts = requestOptions(r.Method)
	}
	if carriesTrace(r.Header) {
		if sc, err := tracer.Extract(tracer.HTTPHeadersCarrier(r.Header)); err == nil && sc != nil {
			q.opts = append(slices.Clip(q.opts), tracer.WithSpanLinks([]tracer.SpanLink{{
				TraceID: sc.TraceIDLower(), TraceIDHigh: sc.TraceIDUpper(), SpanID: sc.SpanID(),
				Attributes: map[string]string{"reason": LinkReason},
			}}))
		}
	}
	ctx := context.WithValue(r.Context(), requestKey{}, q)
	sampled := true
	if sampler != nil {
		sampled, q.rate = sampler.sample()
	}
	if sampled {
		q.span, ctx = tracer.StartSpanFromContext(ctx, SpanRequest, q.opts...)
	}
	return q, ctx
}

// FinishRequest finishes the Request ctx is served in (Finish); without one it does nothing.
func FinishRequest(ctx context.Context, o Outcome) {
	if q := requestFrom(ctx); q != nil {
		q.Finish(o)
	}
}

// requestFrom is the Request ctx is served in, if any.
func requestFrom(ctx context.Context) *Request {
	q, _ := ctx.Value(requestKey{}).(*Request)
	return q
}

// failedIn notes that something of the request in ctx failed (none: nil) and returns its span,
// started now from the request's start if the sampler had left it out, to hang the failure under.
func failedIn(ctx context.Context) *tracer.Span {
	q := requestFrom(ctx)
	if q == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done {
		return nil
	}
	q.failed = true
	if q.span == nil {
		q.span = tracer.StartSpan(SpanRequest, append(slices.Clip(q.opts), tracer.StartTime(q.start))...)
	}
	return q.span
}

// Outcome is what the span of a request records once it is answered.
type Outcome struct {
	Status        int    // the HTTP status answered
	Route         string // the route pattern ("POST /gifts/{gift_id}/send"); "" when none matched
	Cause         error  // the internal cause of a failure, recorded as the error message
	ErrorCode     string // the envelope's error code
	CorrelationID string // the request's Correlation-Id
	Client        string // the API client's name, when its key was valid
}

// Finish ends the request with its outcome: the span, if the request was sampled or something in
// it failed, gets the outcome's tags and is finished. A 5xx answer is recorded even when the
// request was not sampled. A request in which nothing failed weighs the inverse of the share it
// was sampled at (RequestSampler); one that failed is recorded whatever the sampler said, and
// weighs 1. Only the first call counts.
func (q *Request) Finish(o Outcome) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done {
		return
	}
	q.done = true
	failed := q.failed || o.Status >= http.StatusInternalServerError
	if q.span == nil {
		if !failed {
			return
		}
		q.span = tracer.StartSpan(SpanRequest, append(slices.Clip(q.opts), tracer.StartTime(q.start))...)
	}
	s := q.span
	if o.Status != 0 {
		s.SetTag(ext.HTTPCode, strconv.Itoa(o.Status)) // a string, as Datadog's integrations record it
	}
	if o.Status >= http.StatusInternalServerError {
		// No stack: it would be the caller's middleware. The message becomes the cause below.
		s.SetTag(ext.ErrorNoStackTrace, fmt.Errorf("%d: %s", o.Status, http.StatusText(o.Status)))
	}
	if o.Route != "" {
		s.SetTag(ext.ResourceName, o.Route)
		s.SetTag(ext.HTTPRoute, o.Route[strings.IndexByte(o.Route, ' ')+1:])
	}
	if o.Cause != nil {
		s.SetTag(ext.ErrorMsg, o.Cause.Error())
	}
	if o.ErrorCode != "" {
		s.SetTag("error_code", o.ErrorCode)
	}
	if o.CorrelationID != "" {
		s.SetTag(correlation.Key, o.CorrelationID)
	}
	if o.Client != "" {
		s.SetTag(logging.KeyClient, o.Client)
	}
	if !failed && q.rate < 1 {
		s.SetTag(sampleRateKey, q.rate)
	}
	s.Finish()
}

// requestSpanOptions are the span options of a request by method, built once: each option made
// per request is an allocation (tracer.StartSpanFromContext copies the slice it is given).
var requestSpanOptions = map[string][]tracer.StartSpanOption{}

func init() {
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		requestSpanOptions[m] = requestOptions(m)
	}
}

func requestOptions(method string) []tracer.StartSpanOption {
	return slices.Clip([]tracer.StartSpanOption{
		tracer.ResourceName(method),
		tracer.SpanType(ext.SpanTypeWeb),
		tracer.Tag(ext.HTTPMethod, method),
		tracer.Tag(ext.SpanKind, ext.SpanKindServer),
		tracer.Tag(ext.Component, "net/http"),
		tracer.Measured(),
	})
}
