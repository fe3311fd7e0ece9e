package tracing_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/mocktracer"
	ddtracer "github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// The API is public: a request's span is always the root of a new trace, whatever trace context
// (Datadog's headers with a sampling priority, W3C traceparent) the caller sent. A caller's context
// is kept as a span link, ids only; the sampling decision is the tracer's own.
func TestRequestSpanNeverContinuesACallersTrace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]string
		link    *ddtracer.SpanLink // the link to the caller's context; nil: none
	}{
		{"none", nil, nil},
		{"datadog, user keep", map[string]string{"X-Datadog-Trace-Id": "1234", "X-Datadog-Parent-Id": "5678", "X-Datadog-Sampling-Priority": "2"},
			&ddtracer.SpanLink{TraceID: 1234, SpanID: 5678}},
		{"w3c, sampled", map[string]string{"Traceparent": "00-00000000000000010000000000000abc-0000000000000def-01"},
			&ddtracer.SpanLink{TraceID: 0xabc, TraceIDHigh: 1, SpanID: 0xdef}},
		{"unrelated headers only", map[string]string{"X-Amzn-Trace-Id": "Root=1-67891233-abcdef012345678912345678"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt := mocktracer.Start()
			defer mt.Stop()
			r := httptest.NewRequest(http.MethodPost, "/gifts", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			q, ctx := tracing.StartRequest(r, nil)
			if _, ok := ddtracer.SpanFromContext(ctx); !ok {
				t.Fatal("the returned context does not carry the request span")
			}
			q.Finish(tracing.Outcome{})
			spans := mt.FinishedSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			sp := spans[0]
			if sp.OperationName() != tracing.SpanRequest || sp.Tag("resource.name") != http.MethodPost ||
				sp.Tag("http.method") != http.MethodPost || sp.Tag("span.kind") != "server" {
				t.Errorf("span %v, want %s with resource and http.method POST, span.kind server", sp, tracing.SpanRequest)
			}
			if sp.ParentID() != 0 || sp.TraceID() == 1234 || sp.TraceID() == 0xabc {
				t.Errorf("trace %d parent %d, want the root of a new trace", sp.TraceID(), sp.ParentID())
			}
			if p, ok := sp.Context().SamplingPriority(); ok && p == 2 {
				t.Errorf("sampling priority %d came from the caller", p)
			}
			links := sp.Links()
			if tc.link == nil {
				if len(links) != 0 {
					t.Errorf("links %+v, want none", links)
				}
				return
			}
			if len(links) != 1 {
				t.Fatalf("links %+v, want one to the caller's context", links)
			}
			l := links[0]
			if l.TraceID != tc.link.TraceID || l.TraceIDHigh != tc.link.TraceIDHigh || l.SpanID != tc.link.SpanID ||
				l.Flags != 0 || l.Tracestate != "" || l.Attributes["reason"] != tracing.LinkReason {
				t.Errorf("link %+v, want ids %+v, no flags or tracestate, reason %q", l, *tc.link, tracing.LinkReason)
			}
		})
	}
}
