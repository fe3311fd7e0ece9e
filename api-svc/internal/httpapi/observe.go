package httpapi

import (
	"net/http"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// Metrics receives the API's counters and distributions (dogstatsd.Client); docs/observability.md,
// "Metric catalogue".
type Metrics interface {
	Count(name string, value int64, tags ...string)
	Distribution(name string, value float64, tags ...string)
}

// fastWithin is the latency the API latency SLO counts as good (docs/requirements.md §8.1: p95 < 300 ms):
// a request answered within it is tagged fast:true.
const fastWithin = 300 * time.Millisecond

// operations names each route pattern of the generated router by its OpenAPI operation, the
// operation tag of the metrics (Datadog lower-cases tags, so snake_case rather than operationId).
var operations = map[string]string{
	"GET /gifts":                 "list_gifts",
	"POST /gifts":                "create_gift",
	"GET /gifts/{gift_id}":       "get_gift",
	"POST /gifts/{gift_id}/send": "send_gift",
	"GET /healthz":               "healthz",
	"GET /readyz":                "readyz",
}

const unmatched = "unmatched"

// recordRoute runs the generated router and notes the route pattern it matched (ServeMux sets
// r.Pattern on the request it is given), for the span's resource and the metrics' operation.
func recordRoute(routes http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routes.ServeHTTP(w, r)
		if f := fieldsFrom(r.Context()); f != nil && r.Pattern != "" {
			f.route = r.Pattern
		}
	})
}

// routeOf is the route pattern of a request the router never saw (refused by the body limit or
// the validator): the spec's path template, or "" when no operation matches.
func (s *server) routeOf(r *http.Request, f *requestFields) string {
	if f.route != "" {
		return f.route
	}
	if f.operation != nil {
		return r.Method + " " + f.operation.Path
	}
	return ""
}

// traced wraps the whole handler in the APM span of each request its sampler picks
// (tracing.StartRequest, head sampling), and of each that fails; observeRequest names it by route
// (never the raw path) and records its status once the answer is known. Health probes (the load
// balancer's and ECS's, every few seconds) get no trace.
func traced(h http.Handler, sampler *tracing.RequestSampler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isProbe(r) {
			h.ServeHTTP(w, r)
			return
		}
		q, ctx := tracing.StartRequest(r, sampler)
		defer q.Finish(tracing.Outcome{}) // observeRequest finished it, unless a panic escaped the access log
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

func isProbe(r *http.Request) bool { return r.URL.Path == "/healthz" || r.URL.Path == "/readyz" }

// observeRequest reports one finished request: the span's resource, status and error, and the
// request metrics of the availability and latency SLOs.
func (s *server) observeRequest(r *http.Request, f *requestFields, code int, took time.Duration) {
	route := s.routeOf(r, f)
	tracing.FinishRequest(r.Context(), tracing.Outcome{Status: code, Route: route, Cause: f.cause,
		ErrorCode: f.errorCode, CorrelationID: correlation.From(r.Context()), Client: f.client.Name})
	if s.metrics == nil {
		return
	}
	tags := unmatchedTags
	if t, ok := tagsByRoute[route]; ok {
		tags = t
	}
	class, fast := statusClassIndex(code), 0
	if took <= fastWithin {
		fast = 1
	}
	s.metrics.Count("gift.api.requests", 1, tags.requests[class][fast]...)
	s.metrics.Distribution("gift.api.request.duration", took.Seconds(), tags.duration[class]...)
	switch ErrorErrorCode(f.errorCode) {
	case UNAUTHENTICATED, APIKEYINVALID:
		// No client: the key named none (or a revoked one).
		s.metrics.Count("gift.api.auth.rejected", 1, tags.operation, "error_code:"+f.errorCode)
	case RATELIMITED:
		s.metrics.Count("gift.api.rate_limited", 1, tags.operation, "client:"+f.client.Name)
	}
}

// statusClasses are the values of the status_class tag.
var statusClasses = [...]string{"2xx", "3xx", "4xx", "5xx"}

// operationTags are the request metrics' tags of one operation, built once rather than per
// request: by status class (statusClasses) and, for gift.api.requests, fast false or true.
type operationTags struct {
	operation string // operation:<op>
	requests  [len(statusClasses)][2][]string
	duration  [len(statusClasses)][]string
}

func newOperationTags(op string) *operationTags {
	t := &operationTags{operation: "operation:" + op}
	for i, class := range statusClasses {
		for j, fast := range []string{"false", "true"} {
			t.requests[i][j] = []string{"operation:" + op, "status_class:" + class, "fast:" + fast}
		}
		t.duration[i] = []string{"operation:" + op, "status_class:" + class}
	}
	return t
}

// tagsByRoute are the tags of each route pattern's operation (operations); unmatchedTags those
// of a request no operation matches.
var (
	tagsByRoute   = map[string]*operationTags{}
	unmatchedTags = newOperationTags(unmatched)
)

func init() {
	for route, op := range operations {
		tagsByRoute[route] = newOperationTags(op)
	}
}

// statusClassIndex is the index in statusClasses of code's class.
func statusClassIndex(code int) int {
	switch {
	case code >= 500:
		return 3
	case code >= 400:
		return 2
	case code >= 300:
		return 1
	default:
		return 0
	}
}
