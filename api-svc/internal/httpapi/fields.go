package httpapi

import (
	"context"

	"github.com/getkin/kin-openapi/routers"
	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// requestFields collects what one request's access-log line reports, and what the middlewares
// learned about the request once so that the next ones need not find it again (its operation in
// the spec, its body). Handlers and the error renderer fill it in; the access-log middleware
// writes it once the response is done.
type requestFields struct {
	giftID       uuid.UUID
	client       gift.Client // the caller, once its key is checked (authenticate)
	giftStatus   string
	errorCode    string
	errorMessage string
	cause        error  // the internal error behind a 5xx; logged, never sent
	canceled     bool   // the client closed the request before it was answered
	route        string // the route pattern the router matched ("POST /gifts/{gift_id}/send")

	operation    *routers.Route    // the request's operation in the spec (findOperation)
	pathParams   map[string]string // its path parameters
	operationErr error             // why there is none (no such path, method not allowed)
	body         []byte            // the request body as read by limitBody
	decodedBody  any               // the body as its bodyChecker decoded it
}

// decodedBodyOf is the decoded body, or nil.
func (f *requestFields) decodedBodyOf() any {
	if f == nil {
		return nil
	}
	return f.decodedBody
}

type fieldsKey struct{}

func withFields(ctx context.Context, f *requestFields) context.Context {
	return context.WithValue(ctx, fieldsKey{}, f)
}

func fieldsFrom(ctx context.Context) *requestFields {
	f, _ := ctx.Value(fieldsKey{}).(*requestFields)
	return f
}

// noteGift records the gift a request is about and, when known, its status after the request.
func noteGift(ctx context.Context, id uuid.UUID, status string) {
	if f := fieldsFrom(ctx); f != nil {
		f.giftID = id
		if status != "" {
			f.giftStatus = status
		}
	}
}

// clientOf is the client whose key the request carried (zero before authenticate ran).
func clientOf(ctx context.Context) gift.Client {
	if f := fieldsFrom(ctx); f != nil {
		return f.client
	}
	return gift.Client{}
}
