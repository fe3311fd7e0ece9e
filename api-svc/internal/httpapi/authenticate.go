package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/auth"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/ratelimit"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// KeyChecker tells the client of an API key (auth.Checker): auth.ErrInvalidKey when there is none.
type KeyChecker interface {
	Check(ctx context.Context, k apikey.Key) (gift.Client, error)
}

// RateLimiter takes a token of a client's bucket (ratelimit.Limiter).
type RateLimiter interface {
	Allow(client uuid.UUID, limit gift.RateLimit) (bool, time.Duration)
}

// The answers of authenticate (RFC 6750 section 3: the challenge, with an error only when a
// token was sent).
const (
	challengeMissing = `Bearer realm="gift-api"`
	challengeInvalid = `Bearer realm="gift-api", error="invalid_token"`
)

// authenticate lets through only requests whose operation needs no key (the probes; unknown
// routes and methods, which get their 404 or 405) or that carry a valid one, and takes one token
// of the client's rate limit; the client goes into the request's fields for the handlers, the
// access log, the span and the metrics. It runs before the body is read: a caller without a key
// costs no body read, no validation and no database work beyond the cached key check.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := fieldsFrom(r.Context())
		if f == nil { // NewHandler puts findOperation first; without it, nothing is let through
			s.writeError(w, r, errors.New("authenticate: the request's operation was not looked up"))
			return
		}
		if f.operation == nil || !s.secured[f.operation.Operation.OperationID] {
			next.ServeHTTP(w, r)
			return
		}
		key, err := apikey.FromAuthorization(r.Header.Get("Authorization"))
		if errors.Is(err, apikey.ErrMissing) {
			w.Header().Set("WWW-Authenticate", challengeMissing)
			s.writeError(w, r, newAPIError(UNAUTHENTICATED, "an API key is required: Authorization: Bearer <key>"))
			return
		}
		var client gift.Client
		if err == nil {
			client, err = s.keys.Check(r.Context(), key)
		}
		switch {
		case errors.Is(err, apikey.ErrMalformed), errors.Is(err, auth.ErrInvalidKey):
			w.Header().Set("WWW-Authenticate", challengeInvalid)
			s.writeError(w, r, newAPIError(APIKEYINVALID, auth.ErrInvalidKey.Error()))
			return
		case err != nil:
			s.writeError(w, r, err) // the database: 503
			return
		}
		f.client = client
		if ok, wait := s.limiter.Allow(client.ID, client.Limit); !ok {
			s.writeError(w, r, rateLimited(ratelimit.RetryAfterSeconds(wait)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// rateLimited is a 429 telling the client to wait seconds.
func rateLimited(seconds int) error {
	e := newAPIError(RATELIMITED, "too many requests for this client; retry after "+strconv.Itoa(seconds)+" s")
	e.retryAfter = seconds
	return e
}
