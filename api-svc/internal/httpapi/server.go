// Package httpapi is the HTTP port of the Gift API: it implements the strict server interface that
// oapi-codegen generates from openapi.yaml (api.gen.go), validates every request against the spec
// (validate.go), and renders every error through one function (writeError).
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/gifts"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// Options are the handler's dependencies and limits.
type Options struct {
	Gifts *gifts.Service
	// Ready reports whether the API can serve requests (the database answers).
	Ready func(ctx context.Context) error
	Log   *slog.Logger
	// MaxBodyBytes is the largest request body accepted (413 beyond).
	MaxBodyBytes int64
	// FailureInjection honours X-Force-Failure (FAILURE_INJECTION_ENABLED); else it is a 400.
	FailureInjection bool
	// Metrics receives the request and send metrics; nil sends none.
	Metrics Metrics
	// Tracing puts the requests it samples, and every request that fails, in an APM span; nil
	// traces none (tracing off).
	Tracing *tracing.RequestSampler
	// Keys checks the API key of every operation but the probes; Limiter takes a token of the
	// client's rate limit.
	Keys    KeyChecker
	Limiter RateLimiter
}

type server struct {
	gifts            *gifts.Service
	ready            func(ctx context.Context) error
	log              *slog.Logger
	maxBody          int64
	failureInjection bool
	router           routers.Router
	metrics          Metrics
	keys             KeyChecker
	limiter          RateLimiter
	secured          map[string]bool // operation id -> needs an API key
}

// NewHandler returns the API's http.Handler: (APM span) -> access log and metrics -> recover ->
// the operation found in the spec (once) -> API key and rate limit -> body limit -> OpenAPI
// request validation (bodies by
// our own checks, parsed once) -> generated routing and binding -> strict handlers.
// The access log is outside the recovery so that a panic's 500 is logged, counted and put on the
// span like any other answer.
func NewHandler(opts Options) (http.Handler, error) {
	spec, err := GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("load embedded OpenAPI spec: %w", err)
	}
	// Route by path only: the spec's servers list is documentation, not a Host filter.
	spec.Servers = nil
	secured := takeSecurity(spec)
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		return nil, fmt.Errorf("build OpenAPI router: %w", err)
	}
	s := &server{gifts: opts.Gifts, ready: opts.Ready, log: opts.Log, maxBody: opts.MaxBodyBytes,
		failureInjection: opts.FailureInjection, router: router, metrics: opts.Metrics, keys: opts.Keys, limiter: opts.Limiter, secured: secured}
	if s.keys == nil || s.limiter == nil {
		return nil, fmt.Errorf("httpapi: Options.Keys and Options.Limiter are required")
	}

	strict := NewStrictHandlerWithOptions(s, nil, StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  s.writeBodyError,
		ResponseErrorHandlerFunc: s.writeError,
	})
	routes := HandlerWithOptions(decodedBodies{ServerInterface: strict, s: s}, StdHTTPServerOptions{
		BaseRouter:       http.NewServeMux(),
		ErrorHandlerFunc: s.writeError,
	})
	h := s.accessLog(s.recoverPanics(s.findOperation(s.authenticate(s.limitBody(s.validateRequest(recordRoute(routes)))))))
	if opts.Tracing != nil {
		h = traced(h, opts.Tracing)
	}
	return h, nil
}

// allowedMethods lists the methods the spec defines for the request's path (the Allow header of
// a 405).
func (s *server) allowedMethods(r *http.Request) string {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, _, err := s.router.FindRoute(probe); err == nil {
			allowed = append(allowed, m)
		}
	}
	return strings.Join(allowed, ", ")
}

// takeSecurity returns which operations need an API key (by operation id) and removes the
// security requirements from the spec the validator reads: the key is authenticate's to check,
// and kin-openapi would otherwise want an authentication function (and read the body for it).
func takeSecurity(spec *openapi3.T) map[string]bool {
	secured := make(map[string]bool)
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			sec := op.Security
			if sec == nil {
				sec = &spec.Security
			}
			secured[op.OperationID] = len(*sec) > 0
			op.Security = nil
		}
	}
	spec.Security = nil
	return secured
}
