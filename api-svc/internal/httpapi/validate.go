package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// findOperation looks the request's operation up in the spec, once: the body limit, the
// validator, the span's resource and the metrics all read it from the request's fields.
func (s *server) findOperation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := fieldsFrom(r.Context()); f != nil {
			f.operation, f.pathParams, f.operationErr = s.router.FindRoute(r)
		}
		next.ServeHTTP(w, r)
	})
}

// paramsOnly validates parameters and headers with kin-openapi; the body is checked by our own
// code (bodyCheckers), or by kin-openapi for an operation that has none (bodyFallback).
var (
	paramsOnly   = &openapi3filter.Options{ExcludeRequestBody: true}
	bodyFallback = &openapi3filter.Options{}
)

// bodyChecker validates a request body (already read, one JSON document in UTF-8 of the type
// application/json: limitBody) against the operation's schema and decodes it, in one pass.
type bodyChecker func(body []byte) (any, error)

// bodyCheckers are the checks of the request bodies in openapi.yaml, by operation id as the
// embedded spec spells it (oapi-codegen's Go names); each is held to the spec's schema by
// TestBodyChecksAgreeWithTheSchema.
var bodyCheckers = map[string]bodyChecker{
	"CreateGift": func(body []byte) (any, error) { return decodeCreateGift(body) },
}

// validateRequest refuses a request the spec does not allow (unknown path or method, parameters,
// headers, body) before the generated router and binding see it, rendering the refusal through
// writeError. The route comes from findOperation; a body is parsed once, by its bodyChecker,
// and the decoded value handed to the handler (decodedBodies).
func (s *server) validateRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := fieldsFrom(r.Context())
		if f == nil { // not under the access log: look the operation up here
			f = &requestFields{}
			f.operation, f.pathParams, f.operationErr = s.router.FindRoute(r)
			r = r.WithContext(withFields(r.Context(), f))
		}
		if f.operationErr != nil {
			s.writeError(w, r, f.operationErr)
			return
		}
		op := f.operation.Operation
		check, ownBody := bodyCheckers[op.OperationID]
		if op.RequestBody != nil && ownBody {
			if len(f.body) == 0 {
				if op.RequestBody.Value != nil && op.RequestBody.Value.Required {
					s.writeError(w, r, validationError("request body is required"))
					return
				}
			} else {
				v, err := check(f.body)
				if err != nil {
					s.writeError(w, r, err)
					return
				}
				f.decodedBody = v
			}
		}
		opts := paramsOnly
		if op.RequestBody != nil && !ownBody {
			opts = bodyFallback
		}
		// kin-openapi has nothing to check for an operation without parameters or an unchecked
		// body (POST /gifts): skip its per-request setup.
		if len(op.Parameters) > 0 || len(f.operation.PathItem.Parameters) > 0 || opts == bodyFallback {
			err := openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
				Request: r, PathParams: f.pathParams, Route: f.operation, Options: opts,
			})
			if err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// decodeCreateGift checks a body against CreateGiftRequest (an object with amount, an integer in
// [1, 2147483647], and optional message, a string of at most 500 characters; nothing else) and
// decodes it. Member names match exactly, as the schema's do (encoding/json alone would also take
// "Amount"); a repeated member counts with its last value, as a JSON decoder reads it.
func decodeCreateGift(body []byte) (CreateGiftRequest, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return CreateGiftRequest{}, validationError("request body must be a JSON object")
	}
	var req CreateGiftRequest
	for name, raw := range members {
		switch name {
		case "amount":
			n, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || n < 1 || n > 2147483647 {
				return CreateGiftRequest{}, validationError("request body: amount must be an integer between 1 and 2147483647")
			}
			req.Amount = int32(n)
		case "message":
			var m string
			if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &m) != nil {
				return CreateGiftRequest{}, validationError("request body: message must be a string")
			}
			if utf8.RuneCountInString(m) > 500 {
				return CreateGiftRequest{}, validationError("request body: message must be at most 500 characters")
			}
			req.Message = &m
		default:
			return CreateGiftRequest{}, validationError("request body: property %q is not allowed", name)
		}
	}
	if _, ok := members["amount"]; !ok {
		return CreateGiftRequest{}, validationError("request body: amount is required")
	}
	return req, nil
}

// decodedBodies serves the operations whose body validateRequest decoded, handing the decoded
// value to the strict handler instead of letting the generated binding parse the body again;
// the other operations go to the generated handler as they are.
type decodedBodies struct {
	ServerInterface // the generated strict handler
	s               *server
}

func (h decodedBodies) CreateGift(w http.ResponseWriter, r *http.Request, params CreateGiftParams) {
	f := fieldsFrom(r.Context())
	body, ok := f.decodedBodyOf().(CreateGiftRequest)
	if !ok {
		h.ServerInterface.CreateGift(w, r, params)
		return
	}
	resp, err := h.s.CreateGift(r.Context(), CreateGiftRequestObject{Params: params, Body: &body})
	if err == nil {
		err = resp.VisitCreateGiftResponse(w)
	}
	if err != nil {
		h.s.writeError(w, r, err)
	}
}
