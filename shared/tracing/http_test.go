package tracing_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/mocktracer"
	ddtracer "github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// A request that carries a caller's trace context (Datadog's headers or W3C traceparent) continues
// that trace; one that carries none starts a trace of its own.
func TestRequestSpanContinuesTheCallersTrace(t *testing.T) {
	for _, tc := range []struct {
		name            string
		headers         map[string]string
		trace, parentID uint64 // 0, 0: a new trace
	}{
		{"none", nil, 0, 0},
		{"datadog", map[string]string{"X-Datadog-Trace-Id": "1234", "X-Datadog-Parent-Id": "5678", "X-Datadog-Sampling-Priority": "1"}, 1234, 5678},
		{"w3c", map[string]string{"Traceparent": "00-00000000000000000000000000000abc-0000000000000def-01"}, 0xabc, 0xdef},
		{"unrelated headers only", map[string]string{"X-Amzn-Trace-Id": "Root=1-67891233-abcdef012345678912345678"}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt := mocktracer.Start()
			defer mt.Stop()
			r := httptest.NewRequest(http.MethodPost, "/gifts", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			span, ctx := tracing.StartRequest(r)
			if got, ok := ddtracer.SpanFromContext(ctx); !ok || got != span {
				t.Fatal("the returned context does not carry the request span")
			}
			span.Finish()
			spans := mt.FinishedSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			sp := spans[0]
			if sp.OperationName() != tracing.SpanRequest || sp.Tag("resource.name") != http.MethodPost ||
				sp.Tag("http.method") != http.MethodPost || sp.Tag("span.kind") != "server" {
				t.Errorf("span %v, want %s with resource and http.method POST, span.kind server", sp, tracing.SpanRequest)
			}
			if tc.trace == 0 {
				if sp.ParentID() != 0 {
					t.Errorf("parent %d, want a new trace", sp.ParentID())
				}
				return
			}
			if sp.TraceID() != tc.trace || sp.ParentID() != tc.parentID {
				t.Errorf("trace %d parent %d, want trace %d parent %d", sp.TraceID(), sp.ParentID(), tc.trace, tc.parentID)
			}
		})
	}
}
