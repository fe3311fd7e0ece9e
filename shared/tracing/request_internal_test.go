package tracing

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/ext"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/mocktracer"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
	"github.com/jackc/pgx/v5"
)

// fixedSampler samples every request (draw 0) or none (draw 1) at the given share.
func fixedSampler(rate float64, sampled bool) *RequestSampler {
	s := NewRequestSampler(1)
	s.now = func() time.Time { return s.since } // never a new second: the rate stays
	s.rate = rate
	s.draw = func() float64 {
		if sampled {
			return 0
		}
		return 1
	}
	return s
}

// A request the sampler leaves out costs no span and none of its statements do, unless something
// fails: then its span is recorded after all, from the request's start, with the failed statement
// under it, and weighs 1 (no _sample_rate). A sampled request that ran without a failure carries
// the share it was sampled at, so the Agent counts it that many times.
func TestRequestSpansOnlyWhenSampledOrFailed(t *testing.T) {
	failure := errors.New("connection reset")
	for _, tc := range []struct {
		name       string
		sampled    bool
		stmtErr    error // the statement the request runs
		status     int
		wantSpans  int     // request and statement spans
		sampleRate float64 // the request span's _sample_rate; 0: none
	}{
		{"left out, answered", false, nil, http.StatusCreated, 0, 0},
		{"left out, no rows is an answer", false, pgx.ErrNoRows, http.StatusNotFound, 0, 0},
		{"left out, statement fails", false, failure, http.StatusServiceUnavailable, 2, 0},
		{"left out, statement fails but the request recovers", false, failure, http.StatusCreated, 2, 0},
		{"left out, answered 500", false, nil, http.StatusInternalServerError, 1, 0},
		{"sampled, answered", true, nil, http.StatusCreated, 2, 0.25},
		{"sampled, answered 4xx", true, nil, http.StatusConflict, 2, 0.25},
		{"sampled, statement fails", true, failure, http.StatusServiceUnavailable, 2, 0},
		{"sampled, statement fails but the request recovers", true, failure, http.StatusCreated, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt := mocktracer.Start()
			defer mt.Stop()
			before := time.Now()
			q, ctx := StartRequest(httptest.NewRequest(http.MethodPost, "/gifts", nil), fixedSampler(0.25, tc.sampled))
			if _, ok := tracer.SpanFromContext(ctx); ok != tc.sampled {
				t.Fatalf("span in the request's context: %v, want %v", ok, tc.sampled)
			}
			p := NewPGX()
			sctx := p.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{SQL: "SELECT 1"})
			p.TraceQueryEnd(sctx, nil, pgx.TraceQueryEndData{Err: tc.stmtErr})
			q.Finish(Outcome{Status: tc.status, Route: "POST /gifts"})
			q.Finish(Outcome{Status: http.StatusOK}) // only the first counts

			spans := mt.FinishedSpans()
			if len(spans) != tc.wantSpans {
				t.Fatalf("%d spans, want %d", len(spans), tc.wantSpans)
			}
			var request, statement *mocktracer.Span
			for _, s := range spans {
				switch s.OperationName() {
				case SpanRequest:
					request = s
				case SpanQuery:
					statement = s
				}
			}
			if tc.wantSpans == 0 {
				return
			}
			if request == nil {
				t.Fatal("no request span")
			}
			if request.Tag(ext.HTTPCode) != strconv.Itoa(tc.status) || request.Tag(ext.ResourceName) != "POST /gifts" {
				t.Errorf("request span status %v resource %v, want %d on POST /gifts", request.Tag(ext.HTTPCode), request.Tag(ext.ResourceName), tc.status)
			}
			if request.StartTime().Before(before) || request.StartTime().After(before.Add(time.Second)) {
				t.Errorf("request span starts at %v, want the request's start (%v)", request.StartTime(), before)
			}
			rate, _ := request.Tag(sampleRateKey).(float64)
			if rate != tc.sampleRate {
				t.Errorf("_sample_rate %v, want %v", request.Tag(sampleRateKey), tc.sampleRate)
			}
			if tc.wantSpans == 2 {
				if statement == nil || statement.ParentID() != request.SpanID() || statement.TraceID() != request.TraceID() {
					t.Fatalf("statement span %v, want a child of the request %d", statement, request.SpanID())
				}
				if tc.stmtErr != nil && statement.Tag(ext.ErrorMsg) != tc.stmtErr.Error() {
					t.Errorf("statement error %v, want %q", statement.Tag(ext.ErrorMsg), tc.stmtErr)
				}
			}
		})
	}
}
