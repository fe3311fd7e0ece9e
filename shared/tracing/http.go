package tracing

import (
	"context"
	"net/http"
	"slices"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/ext"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
)

// SpanRequest is the span of one HTTP request served.
const SpanRequest = "http.request"

// carriesTrace reports whether h holds a trace context in one of the tracer's default extraction
// styles (Datadog's headers, W3C traceparent). Most requests carry none, and Extract walks every
// header of the request for each style to find that out. A style configured in addition
// (DD_TRACE_PROPAGATION_STYLE_EXTRACT=b3...) would need its header added here.
func carriesTrace(h http.Header) bool {
	return h.Get("X-Datadog-Trace-Id") != "" || h.Get("Traceparent") != ""
}

// LinkReason is the "reason" attribute of the span link to a caller's trace context.
const LinkReason = "inbound trace context, not continued"

// StartRequest starts the server span of r, always the root of a new trace: the API is public, so a
// caller's trace context (Datadog's headers, W3C traceparent) is never continued. Continuing it
// would let anyone choose the trace id that the outbox row and the queue message then carry to the
// worker, and the sampling decision (x-datadog-sampling-priority: 2 keeps every such trace, at our
// ingestion cost). A caller's context becomes a span link instead (ids only, no sampling flags),
// so a traced caller can still be found from the request (docs/observability.md, "Trace context
// from outside"). Its resource is the method until the caller knows the route; the caller
// finishes it and sets the status code.
//
// It records what the dashboards, monitors and SLOs read (method, route, status, error) and no
// more: dd-trace-go's net/http integration also records the full URL, host, user agent and client
// IP and runs its AppSec hooks on every request, about a fifth of what tracing a request cost
// (docs/observability.md, "Overhead").
func StartRequest(r *http.Request) (*tracer.Span, context.Context) {
	opts, ok := requestSpanOptions[r.Method]
	if !ok {
		opts = requestOptions(r.Method)
	}
	if carriesTrace(r.Header) {
		if sc, err := tracer.Extract(tracer.HTTPHeadersCarrier(r.Header)); err == nil && sc != nil {
			opts = append(slices.Clip(opts), tracer.WithSpanLinks([]tracer.SpanLink{{
				TraceID: sc.TraceIDLower(), TraceIDHigh: sc.TraceIDUpper(), SpanID: sc.SpanID(),
				Attributes: map[string]string{"reason": LinkReason},
			}}))
		}
	}
	return tracer.StartSpanFromContext(r.Context(), SpanRequest, opts...)
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
