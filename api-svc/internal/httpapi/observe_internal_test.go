package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/ext"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/mocktracer"
)

// Every request but the probes gets one span with its status code; a 5xx marks the span as an
// error, a 4xx (the client's mistake) does not.
func TestRequestSpansRecordStatusAndServerErrors(t *testing.T) {
	for _, tc := range []struct {
		path   string
		code   int // 0: the handler writes a body without WriteHeader
		traced bool
		status int
		isErr  bool
	}{
		{"/gifts", http.StatusCreated, true, 201, false},
		{"/gifts", 0, true, 200, false},
		{"/gifts", http.StatusBadRequest, true, 400, false},
		{"/gifts", http.StatusServiceUnavailable, true, 503, true},
		{"/readyz", http.StatusOK, false, 0, false},
		{"/healthz", http.StatusOK, false, 0, false},
	} {
		mt := mocktracer.Start()
		h := traced(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if tc.code != 0 {
				w.WriteHeader(tc.code)
			}
			_, _ = w.Write([]byte("{}"))
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.path, nil))
		spans := mt.FinishedSpans()
		mt.Stop()
		if !tc.traced {
			if len(spans) != 0 {
				t.Errorf("%s: %d spans, want none for a probe", tc.path, len(spans))
			}
			continue
		}
		if len(spans) != 1 {
			t.Fatalf("%s %d: %d spans, want 1", tc.path, tc.code, len(spans))
		}
		sp := spans[0]
		if got := sp.Tag("http.status_code"); got != strconv.Itoa(tc.status) {
			t.Errorf("%s %d: http.status_code %v, want %d", tc.path, tc.code, got, tc.status)
		}
		if isErr := sp.Tag(ext.ErrorMsg) != nil; isErr != tc.isErr {
			t.Errorf("%s %d: %s %v, want an error: %v", tc.path, tc.code, ext.ErrorMsg, sp.Tag(ext.ErrorMsg), tc.isErr)
		}
		if stack := sp.Tag(ext.ErrorStack); stack != nil {
			t.Errorf("%s %d: the span records a stack (the middleware's, of no use): %v", tc.path, tc.code, stack)
		}
	}
}
